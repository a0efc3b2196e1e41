// Backup and restore of a whole registry, online and backend-neutral (blobs are read and written
// only through BlobStore, so an S3 registry backs up the same way).
//
// A backup is a folder laid out like a filesystem storage root, plus what lives beside it:
//   backup.json      what it holds (written last: a folder without it is an unfinished backup)
//   registry.db      the metadata snapshot
//   blobs/sha256/..  every blob the snapshot has accepted or refers to, re-verified as copied
//   htpasswd         the users, when the registry keeps them in a file
//   config.yml       the config file, when there is one
//
// Consistent while pushes run: the snapshot is one SQLite state; the blobs it needs are leased
// in the live database (before the snapshot, everything the metadata knows; after it, whatever
// the snapshot added), so garbage collection, in the server or as a command, cannot remove them
// while they are copied; the lease is renewed while the copy runs and released at the end.
// Restore fills an empty root: blobs first (each verified as it is written), the database last,
// then the users, then fsck.

import { constants as fsConstants } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rmdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BlobIntake, LEASE_TTL_MS } from '../blobs/intake.js'
import { unlessMissing, writeFileAtomic } from '../files.js'
import { restoreDatabase, snapshotDatabase } from '../meta/backup.js'
import { BlobMeta } from '../meta/blobs.js'
import { type Db, onStorageFull, openDatabase } from '../meta/db.js'
import { MaintenanceMeta } from '../meta/maintenance.js'
import { FilesystemBlobStore } from '../store/fs.js'
import type { Storage } from '../store/index.js'
import { rootLayout } from '../store/layout.js'
import { type BlobStore, putBlob } from '../store/types.js'
import { VERSION } from '../version.js'
import { checkStore, type FsckReport } from './fsck.js'

export const BACKUP_FORMAT = 1
const MANIFEST = 'backup.json'
const HTPASSWD = 'htpasswd'
const CONFIG = 'config.yml'
/** Blobs copied at once. */
const COPY_CONCURRENCY = 4

/** A backup or restore that cannot go ahead, or went wrong; the message says why. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BackupError'
  }
}

export interface BackupManifest {
  format: number
  packyard: string
  /** When the backup started and when its metadata snapshot was taken (ISO 8601). */
  startedAt: string
  snapshotAt: string
  schemaVersion: number
  blobs: number
  bytes: number
  /** File names in the backup, or null when the registry had none. */
  htpasswd: string | null
  config: string | null
  /** Where it came from, for the operator. */
  source: { root: string; config: string | null; htpasswd: string | null }
}

export interface BackupSource {
  db: Db
  store: BlobStore
  root: string
  /** The users' file, or null when there is none (no auth, or users in memory). */
  htpasswd: string | null
  /** The config file, or undefined for the built-in defaults. */
  configFile: string | undefined
}

export interface BackupProgress {
  /** The snapshot is taken: `blobs` are to be copied. */
  onSnapshot?: (snapshot: { at: Date; blobs: number }) => void | Promise<void>
  /** How often the lease is renewed while copying (tests shorten it). */
  renewEveryMs?: number
}

export interface BackupReport {
  manifest: BackupManifest
  /** Blobs the snapshot needs that could not be copied (missing or damaged in the store). */
  problems: Array<{ digest: string; detail: string }>
}

export async function backupRegistry(source: BackupSource, dest: string, progress: BackupProgress = {}): Promise<BackupReport> {
  await prepareEmptyFolder(dest, 'the backup folder')
  const startedAt = new Date()
  const lease = new BlobIntake(source.store, new BlobMeta(source.db)).newLease()
  try {
    // Everything the metadata knows, leased before the snapshot can refer to it.
    lease.take(new MaintenanceMeta(source.db).everyDigest())
    const snapshotAt = new Date()
    const snapshot = await snapshotDatabase(source.db, rootLayout(dest).database)
    lease.take(snapshot.digests)
    await progress.onSnapshot?.({ at: snapshotAt, blobs: snapshot.digests.length })

    const target = new FilesystemBlobStore(dest)
    await target.init()
    const renewEveryMs = progress.renewEveryMs ?? LEASE_TTL_MS / 6
    let renewedAt = Date.now()
    const copied = { blobs: 0, bytes: 0 }
    const problems: BackupReport['problems'] = []
    await eachConcurrently(snapshot.digests, COPY_CONCURRENCY, async (digest) => {
      if (Date.now() - renewedAt >= renewEveryMs) {
        renewedAt = Date.now()
        lease.renew()
      }
      try {
        const blob = await putBlob(target, await source.store.open(digest), { digest })
        copied.blobs++
        copied.bytes += blob.size
      } catch (err) {
        problems.push({ digest, detail: (err as Error).message })
      }
    })
    lease.release()
    // The copy is a backup, not a registry: no space reserve, no upload area.
    target.reserve.release()
    await rmdir(rootLayout(dest).uploads).catch(() => undefined)

    const htpasswd = source.htpasswd !== null && (await copyIfPresent(source.htpasswd, join(dest, HTPASSWD), 0o600)) ? HTPASSWD : null
    const config = source.configFile !== undefined && (await copyIfPresent(source.configFile, join(dest, CONFIG), 0o600)) ? CONFIG : null
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      packyard: VERSION,
      startedAt: startedAt.toISOString(),
      snapshotAt: snapshotAt.toISOString(),
      schemaVersion: snapshot.schemaVersion,
      blobs: copied.blobs,
      bytes: copied.bytes,
      htpasswd,
      config,
      source: { root: source.root, config: source.configFile ?? null, htpasswd: source.htpasswd },
    }
    await writeFileAtomic(join(dest, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, 0o600)
    return { manifest, problems }
  } finally {
    lease.release()
  }
}

export interface RestoreTarget {
  /** The target's storage, opened on a root that assertEmptyRoot() accepted. */
  storage: Storage
  /** Where the users go, or null when the target config has no users file. */
  htpasswd: string | null
}

export interface RestoreReport {
  manifest: BackupManifest
  blobs: number
  bytes: number
  /** What happened to the users: restored to a path, kept (a file was already there), or not in the backup / not wanted. */
  users: { restoredTo: string } | { kept: string } | null
  fsck: FsckReport
}

/** Reads and checks a backup's manifest: a folder without one is not a finished backup. */
export async function readBackupManifest(src: string): Promise<BackupManifest> {
  const text = await unlessMissing(readFile(join(src, MANIFEST), 'utf8'))
  if (text === null) throw new BackupError(`${src} is not a finished Packyard backup (it has no ${MANIFEST})`)
  const manifest = JSON.parse(text) as BackupManifest
  if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`${src} is a backup in format ${manifest.format}; this Packyard reads format ${BACKUP_FORMAT}`)
  return manifest
}

/**
 * Refuses a root that holds anything but, optionally, the lock file: restore never mixes a
 * backup with existing data. A root that does not exist is empty.
 */
export async function assertEmptyRoot(root: string, allowed: string[] = []): Promise<void> {
  const entries = (await unlessMissing(readdir(root))) ?? []
  const other = entries.filter((e) => !allowed.includes(e))
  if (other.length > 0) throw new BackupError(`${root} is not empty (it holds ${other.slice(0, 5).join(', ')}${other.length > 5 ? ', ...' : ''}); restore only into an empty root`)
}

export async function restoreRegistry(src: string, target: RestoreTarget): Promise<RestoreReport> {
  const manifest = await readBackupManifest(src)
  const { store, databaseFile } = target.storage
  for await (const blob of store.list()) throw new BackupError(`the target storage already holds blobs (${blob.digest}, ...); restore only into an empty one`)
  if ((await unlessMissing(stat(databaseFile))) !== null) throw new BackupError(`${databaseFile} exists; restore only into an empty root`)

  const from = new FilesystemBlobStore(src)
  let blobs = 0
  let bytes = 0
  const digests: string[] = []
  for await (const blob of from.list()) digests.push(blob.digest)
  await eachConcurrently(digests, COPY_CONCURRENCY, async (digest) => {
    const blob = await putBlob(store, await from.open(digest), { digest })
    blobs++
    bytes += blob.size
  })
  // The database last: until it is there, the root is visibly unfinished.
  await restoreDatabase(join(src, 'registry.db'), databaseFile)

  let users: RestoreReport['users'] = null
  if (manifest.htpasswd !== null && target.htpasswd !== null) {
    const present = (await unlessMissing(stat(target.htpasswd))) !== null
    if (present) users = { kept: target.htpasswd }
    else {
      await mkdir(dirname(target.htpasswd), { recursive: true })
      await copyFile(join(src, manifest.htpasswd), target.htpasswd, fsConstants.COPYFILE_EXCL)
      users = { restoredTo: target.htpasswd }
    }
  }

  const db = openDatabase(databaseFile)
  try {
    onStorageFull(db, target.storage.releaseReserve)
    const fsck = await checkStore(db, store)
    return { manifest, blobs, bytes, users, fsck }
  } finally {
    db.close()
  }
}

/** Creates `dir` (0700), or accepts it when it exists and is empty. */
async function prepareEmptyFolder(dir: string, what: string): Promise<void> {
  const entries = await unlessMissing(readdir(dir))
  if (entries !== null && entries.length > 0) throw new BackupError(`${what} ${dir} is not empty; give a new or empty folder`)
  await mkdir(dir, { recursive: true, mode: 0o700 })
}

/** Copies a file (keeping it private); false when there is no such file. */
async function copyIfPresent(from: string, to: string, mode: number): Promise<boolean> {
  const content = await unlessMissing(readFile(from))
  if (content === null) return false
  await writeFileAtomic(to, content, mode)
  return true
}

async function eachConcurrently<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

