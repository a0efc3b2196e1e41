// Opens the storage the config asks for, in the one way the server and the operator commands
// share: the blob store, its upload staging, where the metadata database lives, and how to free
// the space reserve when the disk is full.

import { FilesystemBlobStore } from './fs.js'
import { MemoryBlobStore } from './memory.js'
import type { BlobStore } from './types.js'
import { openUploadStaging, type UploadStaging } from './uploads.js'

export interface StorageSettings {
  kind: 'filesystem' | 'inmemory'
  rootdirectory: string
}

export interface Storage {
  store: BlobStore
  staging: UploadStaging
  /** A path, or ':memory:'. */
  databaseFile: string
  /** For the database's full-disk handler: frees the space reserve; true when it did. */
  releaseReserve: () => boolean
}

export async function openStorage(settings: StorageSettings): Promise<Storage> {
  if (settings.kind === 'inmemory') {
    const store = new MemoryBlobStore()
    return { store, staging: openUploadStaging(store), databaseFile: ':memory:', releaseReserve: () => false }
  }
  const store = new FilesystemBlobStore(settings.rootdirectory)
  await store.init()
  return { store, staging: openUploadStaging(store), databaseFile: store.layout.database, releaseReserve: () => store.reserve.release() }
}
