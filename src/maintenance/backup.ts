// Backup and restore of a whole registry, online and backend-neutral (blobs are read and written
// only through BlobStore, so an S3 registry backs up the same way), for metadata in SQLite or
// PostgreSQL.
//
// A backup is a folder laid out like a filesystem storage root, plus what lives beside it (the
// names are drawn in store/layout.ts, backupLayout):
//   backup.json         what it holds (written last: a folder without it is an unfinished backup)
//   registry.db         SQLite registries: the metadata snapshot; backup.json records its size,
//                       sha256, schema version and number of blobs (`database`, format 2)
//   metadata.jsonl      PostgreSQL registries: a logical export of one snapshot of the metadata
//                       (meta/transfer.ts's JSON lines), and
//   metadata-blobs.txt  every blob that same snapshot has accepted or refers to, one digest a
//                       line; backup.json records both files' size and sha256, the schema
//                       version, the rows of each table and the number of blobs (`metadata`,
//                       format 3)
//   blobs/sha256/..     every blob the snapshot has accepted or refers to, re-verified as copied
//   htpasswd            the users, when the registry keeps them in a file
//   config.yml          the config file, when there is one
// Leases, deletions in progress and upload sessions belong to the live registry, not to a
// backup: the SQLite snapshot deletes them, the PostgreSQL export writes those tables empty.
//
// Consistent while pushes run: the snapshot is one state of the metadata (SQLite's online backup,
// or one REPEATABLE READ transaction that exports the tables and then lists the blobs); the blobs
// it needs are leased in the live database (before the snapshot, everything the metadata knows;
// after it, whatever the snapshot added), so garbage collection, in the server or as a command,
// cannot remove them while they are copied; the lease is renewed while the copy runs and
// released at the end. A backup is never made inside the storage root it copies.
//
// Restore first checks the backup without writing anything (verifyBackup): the metadata file
// against what backup.json recorded (size, sha256, schema version, number of blobs), for SQLite
// its integrity check and a schema this Packyard knows, and every blob it refers to present. A
// backup restores into the engine it came from: a SQLite backup into a registry whose metadata is
// SQLite, a PostgreSQL one into an empty PostgreSQL database (packyard migrate-metadata moves
// SQLite metadata to PostgreSQL afterwards). Then it fills an empty root: the blobs (each
// verified as it is written; if any is damaged, those copied are removed again and the restore
// refused), the metadata last (the file copied into place, or the export loaded in one
// transaction), then the users, then fsck.

import { constants as fsConstants, createReadStream } from 'node:fs'
import { copyFile, mkdir, open, readdir, readFile, realpath, rmdir, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { createInterface } from 'node:readline'
import { BlobIntake, LEASE_TTL_MS } from '../blobs/intake.js'
import { isRegistryError } from '../errors.js'
import { removeFile, unlessMissing, writeFileAtomic } from '../files.js'
import { inspectSnapshot, restoreDatabase, snapshotDatabase } from '../meta/backup.js'
import { BlobMeta } from '../meta/blobs.js'
import type { Database } from '../meta/database.js'
import { openDatabase } from '../meta/db.js'
import { readMigrations } from '../meta/migrations.js'
import { MaintenanceMeta } from '../meta/maintenance.js'
import { exportMetadata, firstNonEmptyTable, importMetadata, type RowCounts, TransferError } from '../meta/transfer.js'
import { FilesystemBlobStore } from '../store/fs.js'
import type { Storage } from '../store/index.js'
import { digestOfStream } from '../store/digest.js'
import { backupLayout, rootLayout } from '../store/layout.js'
import { type BlobStore, putBlob } from '../store/types.js'
import { VERSION } from '../version.js'
import { checkStore, type FsckReport } from './fsck.js'

/**
 * 2 records the SQLite snapshot's size, sha256 and blob count; 3 is a PostgreSQL registry's
 * logical export (an older Packyard refuses it by its format). Format 1 backups are still restored.
 */
export const BACKUP_FORMAT = 2
export const LOGICAL_BACKUP_FORMAT = 3
const READABLE_FORMATS = [1, 2, 3]
/** The backup's files by name (relative to the folder), as backup.json records them. */
const NAMES = backupLayout('')
const MANIFEST = NAMES.manifest
const DATABASE = NAMES.database
const HTPASSWD = NAMES.htpasswd
const CONFIG = NAMES.config
/** Tables of the live registry only: written empty in a logical export. */
const LIVE_ONLY_TABLES = ['blob_leases', 'blob_deletions', 'upload_sessions']
/** Bytes of export lines gathered before a write to the file. */
const WRITE_CHUNK = 1 << 16
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
  /** The snapshot file as written, and how many blobs it refers to (formats 2, SQLite). */
  database?: { file: string; size: number; digest: string; references: number }
  /** The logical export and the list of the blobs it needs, as written (format 3, PostgreSQL). */
  metadata?: LogicalMetadata
  /** File names in the backup, or null when the registry had none. */
  htpasswd: string | null
  config: string | null
  /** Where it came from, for the operator. */
  source: { root: string; config: string | null; htpasswd: string | null }
}

export interface LogicalMetadata {
  engine: 'postgres'
  file: string
  size: number
  digest: string
  /** Rows of each table in the export. */
  rows: RowCounts
  /** The blobs the snapshot has accepted or refers to: their list file, its sha256, how many. */
  blobList: string
  blobListDigest: string
  references: number
}

/** The engine whose metadata a backup holds. */
export function backupEngine(manifest: BackupManifest): 'sqlite' | 'postgres' {
  return manifest.metadata ? manifest.metadata.engine : 'sqlite'
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
    const snapshot = source.db.dialect === 'sqlite' ? await sqliteSnapshot(source.db, dest) : await logicalSnapshot(source.db, dest)
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
      format: snapshot.format,
      packyard: VERSION,
      startedAt: startedAt.toISOString(),
      snapshotAt: snapshotAt.toISOString(),
      schemaVersion: snapshot.schemaVersion,
      blobs: copied.blobs,
      bytes: copied.bytes,
      ...snapshot.record,
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

/** The metadata of one state, in the backup folder, and every blob it needs. */
interface TakenSnapshot {
  format: number
  schemaVersion: number
  digests: string[]
  record: Pick<BackupManifest, 'database' | 'metadata'>
}

/** SQLite: a copy of the file (meta/backup.ts). */
async function sqliteSnapshot(db: Database, dest: string): Promise<TakenSnapshot> {
  const file = join(dest, DATABASE)
  const snapshot = await snapshotDatabase(db, file)
  const written = await digestOfStream(createReadStream(file))
  return {
    format: BACKUP_FORMAT,
    schemaVersion: snapshot.schemaVersion,
    digests: snapshot.digests,
    record: { database: { file: DATABASE, size: written.size, digest: written.digest, references: snapshot.digests.length } },
  }
}

/**
 * PostgreSQL: the logical export, and in the same snapshot transaction the blobs it has accepted
 * or refers to, so every blob the export names is in the list (and so in the backup).
 */
async function logicalSnapshot(db: Database, dest: string): Promise<TakenSnapshot> {
  const file = join(dest, NAMES.metadata)
  const out = await open(file, 'wx', 0o600)
  let digests: string[] = []
  let rows: RowCounts
  let schemaVersion = 0
  try {
    let chunk: string[] = []
    let chunkBytes = 0
    const flush = async () => {
      if (chunk.length === 0) return
      await out.write(chunk.join(''))
      chunk = []
      chunkBytes = 0
    }
    rows = await exportMetadata(
      db,
      async (line) => {
        chunk.push(`${line}\n`)
        chunkBytes += line.length + 1
        if (chunkBytes >= WRITE_CHUNK) await flush()
      },
      {
        leaveEmpty: LIVE_ONLY_TABLES,
        alsoInSnapshot: async () => {
          digests = (await new MaintenanceMeta(db).everyDigest()).sort()
          schemaVersion = await db.schemaVersion()
        },
      },
    )
    await flush()
    await out.sync()
  } finally {
    await out.close()
  }
  const listFile = join(dest, NAMES.metadataBlobs)
  await writeFileAtomic(listFile, digests.map((d) => `${d}\n`).join(''), 0o600)
  const [written, list] = await Promise.all([digestOfStream(createReadStream(file)), digestOfStream(createReadStream(listFile))])
  return {
    format: LOGICAL_BACKUP_FORMAT,
    schemaVersion,
    digests,
    record: {
      metadata: {
        engine: 'postgres',
        file: NAMES.metadata,
        size: written.size,
        digest: written.digest,
        rows,
        blobList: NAMES.metadataBlobs,
        blobListDigest: list.digest,
        references: digests.length,
      },
    },
  }
}

export interface RestoreTarget {
  /** The target's storage, opened on a root that assertEmptyRoot() accepted. */
  storage: Storage
  /**
   * PostgreSQL registries: the target database, opened (so at its latest schema); the export is
   * loaded into it when it is empty. null when the metadata is SQLite (the file is copied into
   * the storage's database path, which must not exist yet).
   */
  db: Database | null
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
  const meta = manifest.metadata
  const wellFormed =
    Number.isInteger(manifest.schemaVersion) &&
    (manifest.format === 1 ||
      (manifest.format === BACKUP_FORMAT && typeof db === 'object' && db !== null && db.file === DATABASE && Number.isInteger(db.size) && typeof db.digest === 'string' && Number.isInteger(db.references)) ||
      (manifest.format === LOGICAL_BACKUP_FORMAT &&
        typeof meta === 'object' &&
        meta !== null &&
        meta.engine === 'postgres' &&
        meta.file === NAMES.metadata &&
        meta.blobList === NAMES.metadataBlobs &&
        Number.isInteger(meta.size) &&
        typeof meta.digest === 'string' &&
        typeof meta.blobListDigest === 'string' &&
        Number.isInteger(meta.references)))
  if (!wellFormed) {
    const recorded = { 1: '', 2: ', database.size, .digest, .references', 3: ', metadata.engine, .file, .size, .digest, .blobList, .blobListDigest, .references' }[manifest.format as 1 | 2 | 3]
    throw new BackupError(`${file} lacks what format ${manifest.format} records (schemaVersion${recorded}); the backup is damaged`)
  }
  return manifest
}

/** A backup verifyBackup() found whole: restore it with restoreRegistry(). */
export interface VerifiedBackup {
  src: string
  manifest: BackupManifest
  /** The engine its metadata comes from, and restores into. */
  engine: 'sqlite' | 'postgres'
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
  if (manifest.metadata) return verifyLogicalBackup(src, manifest, manifest.metadata)
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
  problems.push(...(await checkPresent(src, digests, DATABASE)))
  problems.push(...(await usersProblems(src, manifest)))
  if (problems.length > 0) throw new BackupError(`${src} is damaged, so nothing was restored: ${problems.join('; ')}`)
  return { src, manifest, engine: 'sqlite', digests }
}

/**
 * A PostgreSQL backup: the export and its blob list are the files backup.json describes (size,
 * sha256), the schema is one this Packyard knows, the list names well-formed digests as many as
 * recorded, and every one is in the backup. The export's own rows are checked as it is loaded
 * (one transaction: a truncated or damaged export leaves the target empty).
 */
async function verifyLogicalBackup(src: string, manifest: BackupManifest, meta: LogicalMetadata): Promise<VerifiedBackup> {
  const known = readMigrations('postgres').length
  if (manifest.schemaVersion > known) {
    throw new BackupError(`${src} holds PostgreSQL metadata of schema version ${manifest.schemaVersion}, newer than this Packyard knows (${known}); restore it with the Packyard that made it (${manifest.packyard}) or a newer one`)
  }
  const problems: string[] = []
  for (const [name, size, digest] of [[meta.file, meta.size, meta.digest], [meta.blobList, null, meta.blobListDigest]] as const) {
    const path = join(src, name)
    const st = await unlessMissing(stat(path))
    if (st === null) throw new BackupError(`${src} is damaged: ${name} is missing; nothing was restored`)
    if (size !== null && st.size !== size) {
      problems.push(`${name} is ${st.size} bytes, but backup.json recorded ${size}`)
      continue
    }
    const found = await digestOfStream(createReadStream(path))
    if (found.digest !== digest) problems.push(`${name} has sha256 ${found.digest.slice(7)}, but backup.json recorded ${digest.slice(7)} (its bytes changed)`)
  }
  if (problems.length > 0) throw new BackupError(`${src} is damaged, so nothing was restored: ${problems.join('; ')}`)
  const digests = (await readFile(join(src, meta.blobList), 'utf8')).split('\n').filter((line) => line !== '')
  const malformed = digests.find((d) => !/^sha256:[a-f0-9]{64}$/.test(d))
  if (malformed !== undefined) problems.push(`${meta.blobList} names ${JSON.stringify(malformed.slice(0, 80))}, not a digest`)
  if (digests.length !== meta.references) problems.push(`${meta.blobList} names ${digests.length} blobs, but backup.json recorded ${meta.references}`)
  if (malformed === undefined) problems.push(...(await checkPresent(src, digests, meta.file)))
  problems.push(...(await usersProblems(src, manifest)))
  if (problems.length > 0) throw new BackupError(`${src} is damaged, so nothing was restored: ${problems.join('; ')}`)
  return { src, manifest, engine: 'postgres', digests }
}

/** The blobs of `digests` the backup lacks, as one problem naming the first few. */
async function checkPresent(src: string, digests: string[], what: string): Promise<string[]> {
  const from = new FilesystemBlobStore(src)
  const missing: string[] = []
  await eachConcurrently(digests, COPY_CONCURRENCY, async (digest) => {
    if ((await from.stat(digest)) === null) missing.push(digest)
  })
  if (missing.length === 0) return []
  missing.sort()
  const more = missing.length > NAMED ? `, and ${missing.length - NAMED} more` : ''
  return [`${missing.length} of the ${digests.length} blobs ${what} refers to are not in the backup (${missing.slice(0, NAMED).join(', ')}${more})`]
}

async function usersProblems(src: string, manifest: BackupManifest): Promise<string[]> {
  if (manifest.htpasswd !== null && (await unlessMissing(stat(join(src, manifest.htpasswd)))) === null) {
    return [`the users' file ${manifest.htpasswd} that backup.json names is missing`]
  }
  return []
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
  checkRestoreEngine(backup, target.db === null ? 'sqlite' : 'postgres')
  for await (const blob of store.list()) throw new BackupError(`the target storage already holds blobs (${blob.digest}, ...); restore only into an empty one`)
  if (target.db === null) {
    if ((await unlessMissing(stat(databaseFile))) !== null) throw new BackupError(`${databaseFile} exists; restore only into an empty root`)
  } else {
    const occupied = await firstNonEmptyTable(target.db)
    if (occupied !== null) throw new BackupError(`the target database (${target.db.location}) is not empty: table ${occupied} has rows; restore only into an empty database`)
  }

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
  const removeCopied = async () => {
    for (const digest of copied) await store.delete(digest)
  }
  if (damaged.length > 0) {
    await removeCopied()
    damaged.sort((a, b) => a.digest.localeCompare(b.digest))
    const more = damaged.length > NAMED ? `; and ${damaged.length - NAMED} more` : ''
    throw new BackupError(
      `${damaged.length} blobs in ${src} are damaged, so nothing was restored (the ${copied.length} blobs copied meanwhile were removed again): ${damaged
        .slice(0, NAMED)
        .map((d) => `${d.digest}: ${d.detail}`)
        .join('; ')}${more}`,
    )
  }
  // The metadata last: until it is there, the registry is visibly unfinished.
  if (target.db === null) await restoreDatabase(join(src, DATABASE), databaseFile)
  else {
    try {
      await importMetadata(target.db, exportLines(join(src, NAMES.metadata)))
    } catch (err) {
      // One transaction, rolled back whatever failed (a refused line, a lost connection): the
      // database is as it was, so the blobs go too and the root is empty again for a retry.
      await removeCopied()
      if (!(err instanceof TransferError)) throw err
      throw new BackupError(`${src}/${NAMES.metadata} was not loaded, so nothing was restored: ${err.message}`)
    }
  }
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

  if (target.db !== null) return { manifest, blobs, bytes, users, fsck: await checkStore(target.db, store) }
  const db = await openDatabase({ kind: 'sqlite', path: databaseFile })
  try {
    db.onStorageFull(target.storage.releaseReserve)
    const fsck = await checkStore(db, store)
    return { manifest, blobs, bytes, users, fsck }
  } finally {
    await db.close()
  }
}

/**
 * A backup restores into the engine it came from; the other way round is refused before
 * anything is written, saying how to get there.
 */
export function checkRestoreEngine(backup: VerifiedBackup, target: 'sqlite' | 'postgres'): void {
  if (backup.engine === target) return
  if (backup.engine === 'sqlite') {
    throw new BackupError(
      `${backup.src} holds SQLite metadata (registry.db), but this registry keeps its metadata in PostgreSQL (database.url). Restore it with database.url unset, then move the metadata with packyard migrate-metadata --from sqlite:PATH --to postgres://...`,
    )
  }
  throw new BackupError(
    `${backup.src} holds PostgreSQL metadata (${NAMES.metadata}), but this registry keeps its metadata in SQLite. Restore it into a registry with database.url set to an empty PostgreSQL database (packyard migrate-metadata moves metadata from SQLite to PostgreSQL only)`,
  )
}

/** The lines of an export file, read as they are loaded. */
async function* exportLines(path: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })
  for await (const line of lines) if (line !== '') yield line
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

