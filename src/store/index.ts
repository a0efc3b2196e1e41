// Opens the storage the config asks for, in the one way the server and the operator commands
// share: the blob store, its upload staging, where the metadata database lives, and how to free
// the space reserve when the disk is full. With S3 the blobs and the chunked uploads (their
// state included) live in the bucket, and the local data directory (the database's folder)
// keeps the database and the initial admin password; the AWS SDK is loaded only then.

import { FilesystemBlobStore } from './fs.js'
import { rootLayout } from './layout.js'
import { MemoryBlobStore } from './memory.js'
import type { S3Settings } from './s3.js'
import type { BlobStore } from './types.js'
import { openUploadStaging, type UploadStaging } from './uploads.js'

export interface StorageSettings {
  kind: 'filesystem' | 'inmemory' | 's3'
  /** The filesystem root, or with S3 the local data directory. */
  rootdirectory: string
  databasePath: string
  s3: S3Settings | null
}

export interface StorageOptions {
  /** Problems worth an operator's attention that do not fail a request. */
  warn?: (message: string) => void
}

export interface Storage {
  store: BlobStore
  staging: UploadStaging
  /** A path, or ':memory:'. */
  databaseFile: string
  /** Where the first admin password is saved; null when nothing is kept on disk. */
  initialAdminPasswordFile: string | null
  /** For the database's full-disk handler: frees the space reserve; true when it did. */
  releaseReserve: () => boolean
}

export async function openStorage(settings: StorageSettings, options: StorageOptions = {}): Promise<Storage> {
  if (settings.kind === 'inmemory') {
    const store = new MemoryBlobStore()
    return { store, staging: openUploadStaging(store), databaseFile: ':memory:', initialAdminPasswordFile: null, releaseReserve: () => false }
  }
  const layout = rootLayout(settings.rootdirectory)
  if (settings.kind === 's3') {
    if (!settings.s3) throw new Error('storage.s3: no settings')
    const [{ S3BlobStore }, { S3UploadStaging }] = await Promise.all([import('./s3.js'), import('./s3-uploads.js')])
    const store = new S3BlobStore(settings.s3, { ...(options.warn ? { warn: options.warn } : {}) })
    await store.verifyBucket()
    return { store, staging: new S3UploadStaging(store), databaseFile: settings.databasePath, initialAdminPasswordFile: layout.initialAdminPassword, releaseReserve: () => false }
  }
  const store = new FilesystemBlobStore(settings.rootdirectory)
  await store.init()
  return {
    store,
    staging: openUploadStaging(store),
    databaseFile: settings.databasePath,
    initialAdminPasswordFile: layout.initialAdminPassword,
    releaseReserve: () => store.reserve.release(),
  }
}
