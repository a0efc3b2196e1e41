// Backup and restore of a whole registry, online and backend-neutral (blobs are read and written
// only through BlobStore, so an S3 registry backs up the same way).
//
// A backup is a folder laid out like a filesystem storage root, plus what lives beside it:
//   backup.json      what it holds (written last: a folder without it is an unfinished backup),
//                    with the snapshot's size, sha256, schema version and number of blobs
//   registry.db      the metadata snapshot
//   blobs/sha256/..  every blob the snapshot has accepted or refers to, re-verified as copied
//   htpasswd         the users, when the registry keeps them in a file
//   config.yml       the config file, when there is one
//
// Consistent while pushes run: the snapshot is one SQLite state; the blobs it needs are leased
// in the live database (before the snapshot, everything the metadata knows; after it, whatever
// the snapshot added), so garbage collection, in the server or as a command, cannot remove them
// while they are copied; the lease is renewed while the copy runs and released at the end. A
// backup is never made inside the storage root it copies.
//
// Restore first checks the backup without writing anything (verifyBackup): the snapshot against
// what backup.json recorded (size, sha256, schema version, number of blobs), SQLite's integrity
// check, a schema this Packyard knows, and every blob the snapshot refers to present. Then it
// fills an empty root: the snapshot's blobs (each verified as it is written; if any is damaged,
// those copied are removed again and the restore refused), the database last, then the users,
// then fsck.

import { constants as fsConstants, createReadStream } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, realpath, rmdir, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { BlobIntake, LEASE_TTL_MS } from '../blobs/intake.js'
import { isRegistryError } from '../errors.js'
import { removeFile, unlessMissing, writeFileAtomic } from '../files.js'
import { inspectSnapshot, restoreDatabase, snapshotDatabase } from '../meta/backup.js'
import { BlobMeta } from '../meta/blobs.js'
import type { Database } from '../meta/database.js'
import { openDatabase } from '../meta/db.js'
import { readMigrations } from '../meta/migrations.js'
import { MaintenanceMeta } from '../meta/maintenance.js'
import { FilesystemBlobStore } from '../store/fs.js'
import type { Storage } from '../store/index.js'
import { digestOfStream } from '../store/digest.js'
import { rootLayout } from '../store/layout.js'
import { type BlobStore, putBlob } from '../store/types.js'
import { VERSION } from '../version.js'
import { checkStore, type FsckReport } from './fsck.js'

/** 2 records the snapshot's size, sha256 and blob count; format 1 backups are still restored. */
export const BACKUP_FORMAT = 2
const READABLE_FORMATS = [1, 2]
const MANIFEST = 'backup.json'
const DATABASE = 'registry.db'
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
  /** Blobs copied and their bytes. */
  blobs: number
  bytes: number
  /** The snapshot file as written, and how many blobs it refers to (absent in format 1). */
  database?: { file: string; size: number; digest: string; references: number }
  /** File names in the backup, or null when the registry had none. */
  htpasswd: string | null
  config: string | null
  /** Where it came from, for the operator. */
  source: { root: string; config: string | null; htpasswd: string | null }
}

export interface BackupSource {
  db: Database
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
  if (await isInside(dest, source.root)) {
    throw new BackupError(`the backup folder ${dest} is inside the storage root ${source.root}; a backup must live apart from what it saves (another disk or host, at least another folder)`)
  }
  await prepareEmptyFolder(dest, 'the backup folder')
  const startedAt = new Date()
  const lease = new BlobIntake(source.store, new BlobMeta(source.db)).newLease()
  try {
    // Everything the metadata knows, leased before the snapshot can refer to it.
    await lease.take(await new MaintenanceMeta(source.db).everyDigest())
    const snapshotAt = new Date()
    const snapshotFile = join(dest, DATABASE)
    const snapshot = await snapshotDatabase(source.db, snapshotFile)
    const written = await digestOfStream(createReadStream(snapshotFile))
    await lease.take(snapshot.digests)
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
        await lease.renew()
      }
      try {
        const blob = await putBlob(target, await source.store.open(digest), { digest })
        copied.blobs++
        copied.bytes += blob.size
      } catch (err) {
        problems.push({ digest, detail: (err as Error).message })
      }
    })
    await lease.release()
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
      database: { file: DATABASE, size: written.size, digest: written.digest, references: snapshot.digests.length },
      htpasswd,
      config,
      source: { root: source.root, config: source.configFile ?? null, htpasswd: source.htpasswd },
    }
    await writeFileAtomic(join(dest, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, 0o600)
    return { manifest, problems }
  } finally {
    await lease.release()
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
  const file = join(src, MANIFEST)
  const text = await unlessMissing(readFile(file, 'utf8'))
  if (text === null) throw new BackupError(`${src} is not a finished Packyard backup (it has no ${MANIFEST})`)
  let manifest: BackupManifest
  try {
    manifest = JSON.parse(text) as BackupManifest
  } catch (err) {
    throw new BackupError(`${file} is not valid JSON (${(err as Error).message}); the backup is damaged`)
  }
  if (typeof manifest !== 'object' || manifest === null || !READABLE_FORMATS.includes(manifest.format)) {
    throw new BackupError(`${src} is a backup in format ${JSON.stringify((manifest as Partial<BackupManifest> | null)?.format)}; this Packyard reads formats ${READABLE_FORMATS.join(' and ')}`)
  }
  const db = manifest.database
  const wellFormed =
    Number.isInteger(manifest.schemaVersion) &&
    (manifest.format === 1 || (typeof db === 'object' && db !== null && db.file === DATABASE && Number.isInteger(db.size) && typeof db.digest === 'string' && Number.isInteger(db.references)))
  if (!wellFormed) throw new BackupError(`${file} lacks what format ${manifest.format} records (schemaVersion${manifest.format === 1 ? '' : ', database.size, .digest, .references'}); the backup is damaged`)
  return manifest
}

/** A backup verifyBackup() found whole: restore it with restoreRegistry(). */
export interface VerifiedBackup {
  src: string
  manifest: BackupManifest
  /** Every blob the snapshot refers to, each present in the backup. */
  digests: string[]
}

/** At most this many digests are named in a refusal; the rest are counted. */
const NAMED = 5

/**
 * Checks a backup without writing anything: the snapshot is the file backup.json describes
 * (size and sha256, schema version, number of blobs it refers to), SQLite finds it whole, its
 * schema is one this Packyard knows, and every blob it refers to is in the backup. Every
 * problem found is named in one BackupError.
 */
export async function verifyBackup(src: string): Promise<VerifiedBackup> {
  const manifest = await readBackupManifest(src)
  const known = readMigrations('sqlite').length
  if (manifest.schemaVersion > known) {
    throw new BackupError(`${src} holds a database of schema version ${manifest.schemaVersion}, newer than this Packyard knows (${known}); restore it with the Packyard that made it (${manifest.packyard}) or a newer one`)
  }
  const problems: string[] = []
  const file = join(src, DATABASE)
  const recorded = manifest.database
  const st = await unlessMissing(stat(file))
  if (st === null) {
    throw new BackupError(`${src} is damaged: ${DATABASE} is missing; nothing was restored`)
  }
  if (recorded) {
    if (st.size !== recorded.size) problems.push(`${DATABASE} is ${st.size} bytes, but backup.json recorded ${recorded.size}`)
    else {
      const { digest } = await digestOfStream(createReadStream(file))
      if (digest !== recorded.digest) problems.push(`${DATABASE} has sha256 ${digest.slice(7)}, but backup.json recorded ${recorded.digest.slice(7)} (its bytes changed)`)
    }
  }
  const inspection = inspectSnapshot(file)
  problems.push(...inspection.problems.map((p) => `${DATABASE} ${p}`))
  if (inspection.problems.length === 0 && inspection.schemaVersion !== manifest.schemaVersion) {
    problems.push(`${DATABASE} is of schema version ${inspection.schemaVersion}, but backup.json recorded ${manifest.schemaVersion}${inspection.schemaVersion === 0 ? ' (it holds no registry: an empty or foreign database)' : ''}`)
  }
  const digests = inspection.digests ?? []
  if (recorded && inspection.digests !== null && digests.length !== recorded.references) {
    problems.push(`${DATABASE} refers to ${digests.length} blobs, but backup.json recorded ${recorded.references}`)
  }
  const from = new FilesystemBlobStore(src)
  const missing: string[] = []
  await eachConcurrently(digests, COPY_CONCURRENCY, async (digest) => {
    if ((await from.stat(digest)) === null) missing.push(digest)
  })
  if (missing.length > 0) {
    missing.sort()
    const more = missing.length > NAMED ? `, and ${missing.length - NAMED} more` : ''
    problems.push(`${missing.length} of the ${digests.length} blobs ${DATABASE} refers to are not in the backup (${missing.slice(0, NAMED).join(', ')}${more})`)
  }
  if (manifest.htpasswd !== null && (await unlessMissing(stat(join(src, manifest.htpasswd)))) === null) {
    problems.push(`the users' file ${manifest.htpasswd} that backup.json names is missing`)
  }
  if (problems.length > 0) throw new BackupError(`${src} is damaged, so nothing was restored: ${problems.join('; ')}`)
  return { src, manifest, digests }
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

/**
 * Restores a verified backup into `target`. A blob whose bytes do not match its digest is
 * named, the blobs copied so far are removed again and BackupError thrown, so the target is as
 * it was; any other error leaves what was copied.
 */
export async function restoreRegistry(backup: VerifiedBackup, target: RestoreTarget): Promise<RestoreReport> {
  const { src, manifest, digests } = backup
  const { store, databaseFile } = target.storage
  for await (const blob of store.list()) throw new BackupError(`the target storage already holds blobs (${blob.digest}, ...); restore only into an empty one`)
  if ((await unlessMissing(stat(databaseFile))) !== null) throw new BackupError(`${databaseFile} exists; restore only into an empty root`)

  const from = new FilesystemBlobStore(src)
  let bytes = 0
  const copied: string[] = []
  const damaged: Array<{ digest: string; detail: string }> = []
  await eachConcurrently(digests, COPY_CONCURRENCY, async (digest) => {
    try {
      const blob = await putBlob(store, await from.open(digest), { digest })
      copied.push(digest)
      bytes += blob.size
    } catch (err) {
      if (!isRegistryError(err) || (err.code !== 'DIGEST_INVALID' && err.code !== 'SIZE_INVALID' && err.code !== 'BLOB_UNKNOWN')) throw err
      damaged.push({ digest, detail: err.message })
    }
  })
  if (damaged.length > 0) {
    for (const digest of copied) await store.delete(digest)
    damaged.sort((a, b) => a.digest.localeCompare(b.digest))
    const more = damaged.length > NAMED ? `; and ${damaged.length - NAMED} more` : ''
    throw new BackupError(
      `${damaged.length} blobs in ${src} are damaged, so nothing was restored (the ${copied.length} blobs copied meanwhile were removed again): ${damaged
        .slice(0, NAMED)
        .map((d) => `${d.digest}: ${d.detail}`)
        .join('; ')}${more}`,
    )
  }
  // The database last: until it is there, the root is visibly unfinished.
  await restoreDatabase(join(src, DATABASE), databaseFile)
  const blobs = copied.length

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

  const db = await openDatabase({ kind: 'sqlite', path: databaseFile })
  try {
    db.onStorageFull(target.storage.releaseReserve)
    const fsck = await checkStore(db, store)
    return { manifest, blobs, bytes, users, fsck }
  } finally {
    await db.close()
  }
}

/** Whether `path` is `root` or inside it, symbolic links resolved as far as they exist. */
async function isInside(path: string, root: string): Promise<boolean> {
  const [p, r] = await Promise.all([realpathOfExisting(path), realpathOfExisting(root)])
  const rel = relative(r, p)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

/** The real path of the longest existing prefix of `path`, with the rest appended. */
async function realpathOfExisting(path: string): Promise<string> {
  const absolute = resolve(path)
  const real = await unlessMissing(realpath(absolute))
  if (real !== null) return real
  const parent = dirname(absolute)
  return parent === absolute ? absolute : join(await realpathOfExisting(parent), absolute.slice(parent.length))
}

/**
 * After a refused restore: removes the empty folders and the space reserve that opening the
 * target's storage created, so the root is empty again for the next try. Only empty folders
 * go (rmdir refuses the rest).
 */
export async function removeEmptyLayout(root: string): Promise<void> {
  const layout = rootLayout(root)
  for (const sub of (await unlessMissing(readdir(layout.blobs))) ?? []) await rmdir(join(layout.blobs, sub)).catch(() => undefined)
  for (const dir of [layout.blobs, dirname(layout.blobs), layout.uploads]) await rmdir(dir).catch(() => undefined)
  await removeFile(layout.reservedSpace)
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

