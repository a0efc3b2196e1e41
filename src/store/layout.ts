// The storage root, drawn once (as distribution's paths.go). Everything that needs a path under
// the root asks here; nothing else spells these names. With S3 storage this is the local data
// directory (the database's folder); the bucket's keys mirror it under storage.s3.rootdirectory:
// `blobs/sha256/<2 hex>/<64 hex>` and `uploads/` (temp objects, assembled uploads).
//
//   <root>/
//     blobs/sha256/<2 hex>/<64 hex>   content-addressed blobs (filesystem storage)
//     uploads/<uuid>                   chunked upload sessions in progress
//     uploads/put-<uuid>               a blob being received, until verified and linked
//     uploads/<uuid>.json, .<n>.tail   with S3 storage: a chunked upload's state and the bytes
//                                      after its last full part (the parts are in the bucket)
//     registry.db (+ -wal, -shm)       the metadata (SQLite), unless database.path says otherwise
//     reserved-space                   space kept back so deletes work on a full disk
//     initial-admin-password           the first admin password (0600), until changed
//     htpasswd                         the users, when auth.htpasswd.path is not set
//     packyard.lock                    which server uses this root (pid, host, start time)
//     registry.db.lock                 which server uses the database: `<database>.lock`, beside
//                                      the database wherever database.path puts it

import { join } from 'node:path'

export const PUT_TEMP_PREFIX = 'put-'

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

/** The lock of a database file, beside it: `<database>.lock`. */
export function databaseLockFile(databaseFile: string): string {
  return `${databaseFile}.lock`
}
