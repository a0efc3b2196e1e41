// The storage root, the S3 bucket's keys and a backup folder, drawn once (as distribution's
// paths.go). Everything that needs a path under the root, a key in the bucket or a file of a
// backup asks here; nothing else spells these names. With S3 storage the root is the local data
// directory (the database's folder), and the bucket's keys mirror it under
// storage.s3.rootdirectory (bucketLayout below).
//
//   <root>/
//     blobs/sha256/<2 hex>/<64 hex>   content-addressed blobs (filesystem storage); nginx sends
//                                      them from <accelredirect>sha256/... (accelPath)
//     uploads/<uuid>                   chunked upload sessions in progress (filesystem storage)
//     uploads/put-<uuid>               a blob being received, until verified and linked
//     registry.db (+ -wal, -shm)       the metadata (SQLite), unless database.path says otherwise
//     reserved-space                   space kept back so deletes work on a full disk
//     initial-admin-password           the first admin password (0600), until changed
//     htpasswd                         the users, when auth.htpasswd.path is not set
//     packyard.lock                    which server uses this root (pid, host, start time)
//     registry.db.lock                 which server uses the database: `<database>.lock`, beside
//                                      the database wherever database.path puts it
//
//   bucket: <storage.s3.rootdirectory>/
//     blobs/sha256/<2 hex>/<64 hex>   content-addressed blobs
//     uploads/put-<uuid>               a blob being received (multipart), until copied into place
//     uploads/<uuid>                   a chunked upload session's multipart object
//     uploads/<uuid>.json              its state: multipart upload id, parts, tail generation
//     uploads/<uuid>.<n>.tail          the bytes after its last full part (generation n), so any
//                                      replica can continue the upload (nothing on local disk)
//
//   backup folder (packyard backup DEST):
//     backup.json                      what the backup holds, written last
//     registry.db                      the metadata, SQLite registries: a snapshot of the file
//     metadata.jsonl                   the metadata, PostgreSQL registries: a logical export of one
//                                      snapshot (meta/transfer.ts's JSON lines)
//     metadata-blobs.txt               with metadata.jsonl: every blob that snapshot has accepted or
//                                      refers to, one digest a line, sorted
//     blobs/sha256/<2 hex>/<64 hex>   those blobs, laid out as in a filesystem root
//     htpasswd, config.yml             the users and the config file, when there are any

import { join } from 'node:path'

export const PUT_TEMP_PREFIX = 'put-'
const UPLOAD_STATE_SUFFIX = '.json'
const UPLOAD_TAIL = /^(.+)\.(\d+)\.tail$/

export interface RootLayout {
  root: string
  blobs: string
  uploads: string
  database: string
  reservedSpace: string
  initialAdminPassword: string
  htpasswd: string
  lock: string
}

export function rootLayout(root: string): RootLayout {
  return {
    root,
    blobs: join(root, 'blobs', 'sha256'),
    uploads: join(root, 'uploads'),
    database: join(root, 'registry.db'),
    reservedSpace: join(root, 'reserved-space'),
    initialAdminPassword: join(root, 'initial-admin-password'),
    htpasswd: join(root, 'htpasswd'),
    lock: join(root, 'packyard.lock'),
  }
}

/** Where a blob's bytes live: `<blobs>/<2 hex>/<64 hex>`; `hex` is already validated. */
export function blobPath(layout: RootLayout, hex: string): string {
  return join(layout.blobs, hex.slice(0, 2), hex)
}

/**
 * Where nginx finds a blob under storage.filesystem.accelredirect, an internal location aliased
 * to `<root>/blobs/`: `<prefix>sha256/<2 hex>/<64 hex>`, the path of blobPath below `blobs/`.
 */
export function accelPath(prefix: string, hex: string): string {
  return `${prefix}sha256/${hex.slice(0, 2)}/${hex}`
}

/** The lock of a database file, beside it: `<database>.lock`. */
export function databaseLockFile(databaseFile: string): string {
  return `${databaseFile}.lock`
}

/** The bucket's keys, under storage.s3.rootdirectory (no leading or trailing slash; '' for the bucket root). */
export interface BucketLayout {
  /** `<rootdirectory>/`, or '' */
  prefix: string
  /** The prefix every blob key starts with: `<prefix>blobs/sha256/`. */
  blobs: string
  /** `<prefix>uploads/` */
  uploads: string
}

export function bucketLayout(rootdirectory: string): BucketLayout {
  const prefix = rootdirectory === '' ? '' : `${rootdirectory}/`
  return { prefix, blobs: `${prefix}blobs/sha256/`, uploads: `${prefix}uploads/` }
}

/** A blob's key: `<blobs>/<2 hex>/<64 hex>`; `hex` is already validated. */
export function blobKey(layout: BucketLayout, hex: string): string {
  return `${layout.blobs}${hex.slice(0, 2)}/${hex}`
}

/** A temp object or an upload session's object: `<uploads>/<name>`. */
export function uploadKey(layout: BucketLayout, name: string): string {
  return `${layout.uploads}${name}`
}

/** A temp name for a blob being received: `put-<uuid>`. */
export function putTempName(uuid: string): string {
  return `${PUT_TEMP_PREFIX}${uuid}`
}

/** A chunked S3 upload's state object: `<uploads>/<id>.json`. */
export function uploadStateKey(layout: BucketLayout, id: string): string {
  return `${layout.uploads}${id}${UPLOAD_STATE_SUFFIX}`
}

/** The bytes after a chunked S3 upload's last full part: `<uploads>/<id>.<generation>.tail`. */
export function uploadTailKey(layout: BucketLayout, id: string, generation: number): string {
  return `${layout.uploads}${id}.${generation}.tail`
}

/** What a key under `<uploads>/` is: an upload's state, one of its tails, or an object (temp or multipart); null for other keys. */
export function parseUploadKey(layout: BucketLayout, key: string): { kind: 'state' | 'tail' | 'object'; id: string } | null {
  if (!key.startsWith(layout.uploads)) return null
  const name = key.slice(layout.uploads.length)
  if (name.endsWith(UPLOAD_STATE_SUFFIX)) return { kind: 'state', id: name.slice(0, -UPLOAD_STATE_SUFFIX.length) }
  const tail = UPLOAD_TAIL.exec(name)
  if (tail) return { kind: 'tail', id: tail[1] as string }
  return { kind: 'object', id: name }
}

export interface BackupLayout {
  folder: string
  manifest: string
  /** SQLite registries: the snapshot file. */
  database: string
  /** PostgreSQL registries: the logical export, and the blobs it needs. */
  metadata: string
  metadataBlobs: string
  htpasswd: string
  config: string
}

/** The files of a backup folder; each name is also what backup.json records. */
export function backupLayout(folder: string): BackupLayout {
  return {
    folder,
    manifest: join(folder, 'backup.json'),
    database: join(folder, 'registry.db'),
    metadata: join(folder, 'metadata.jsonl'),
    metadataBlobs: join(folder, 'metadata-blobs.txt'),
    htpasswd: join(folder, 'htpasswd'),
    config: join(folder, 'config.yml'),
  }
}
