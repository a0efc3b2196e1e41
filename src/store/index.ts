// Picks the blob store the config asks for.

import type { Config } from '../config/load.js'
import { FilesystemBlobStore } from './fs.js'
import { MemoryBlobStore } from './memory.js'
import type { BlobStore } from './types.js'

export async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage.kind === 'inmemory') return new MemoryBlobStore()
  const store = new FilesystemBlobStore(config.storage.rootdirectory)
  await store.init()
  return store
}
