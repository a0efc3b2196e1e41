// One server per storage root and per database. The server (and `packyard restore`, which fills
// a root) holds `<root>/packyard.lock` and, beside the database wherever database.path puts it,
// `<database>.lock`: small JSON files naming its pid, host, start time and purpose. A second one
// refuses to start with a message naming the first, instead of silently sharing the database
// (two roots, one database.path) or collecting the other's uploads (one root). The operator
// commands that are safe next to a running server (garbage-collect, fsck, backup) take neither.
//
// A lock is stale when its process is gone: on the same host, when the pid is not running (or
// runs something that is not Packyard, or is this very process: a container restarted with the
// same pid); from another host (a shared volume), when its holder has stopped refreshing it
// (the holder touches it every 15 s). A stale lock is moved aside atomically, checked to be the
// one judged stale, removed, and the lock taken afresh; the lock file is created complete (written
// under a temp name, then hard-linked into place), so it is never seen half written.

import { randomUUID } from 'node:crypto'
import { link, mkdir, open, readFile, rename, stat, utimes } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { isStorageFull } from '../errors.js'
import { fsyncDir, isMissing, removeFile, unlessMissing } from '../files.js'
import { databaseLockFile, rootLayout } from './layout.js'

export interface LockHolder {
  pid: number
  host: string
  startedAt: string
  /** What holds the lock: `serve` (with its listen address) or `restore`. */
  purpose: string
  token: string
}

export interface HeldLock {
  file: string
  holder: LockHolder
  /** Removes the lock if it still is ours; safe twice. */
  release(): Promise<void>
}

/** What a lock guards, for the refusal's message. */
interface Guarded {
  /** `the storage root`, `the database` */
  what: string
  path: string
  /** What to do instead, and why sharing it is refused. */
  instead: string
}

/** Another live process holds the storage root or the database. */
export class InUseError extends Error {
  constructor(
    readonly path: string,
    readonly lockFile: string,
    readonly holder: LockHolder,
    refreshedAgoMs: number,
    guarded: Guarded,
  ) {
    const sameHost = holder.host === hostname()
    super(
      `another Packyard process is using ${guarded.what} ${path}: ${holder.purpose}, pid ${holder.pid} on host ${holder.host}, started ${holder.startedAt}. ` +
        `Stop it first, or ${guarded.instead}` +
        (sameHost ? '' : `. Its lock was refreshed ${Math.round(refreshedAgoMs / 1000)} s ago; if that server is gone, start again in ${Math.ceil(Math.max(0, STALE_AFTER_MS - refreshedAgoMs) / 1000)} s or remove ${lockFile}`),
    )
    this.name = 'InUseError'
  }
}

export const HEARTBEAT_MS = 15_000
/** A lock from another host that has not been refreshed for this long is stale. */
export const STALE_AFTER_MS = 4 * HEARTBEAT_MS

export interface LockOptions {
  purpose: string
  /** Told about a stale lock that was taken over (for the log). */
  onStale?: (holder: LockHolder | null) => void
  /**
   * The disk is too full even for the lock file: free space (the root's space reserve) and
   * return true to try again. A full disk must not keep the registry from starting.
   */
  onStorageFull?: () => boolean
}

export function lockRoot(root: string, options: LockOptions): Promise<HeldLock> {
  return takeLock(rootLayout(root).lock, options, {
    what: 'the storage root',
    path: root,
    instead: "give this one another root (two servers on one root would share its database and remove each other's uploads)",
  })
}

/** The database's own lock, wherever database.path puts it (the root lock cannot see a database outside its root). */
export function lockDatabase(databaseFile: string, options: LockOptions): Promise<HeldLock> {
  return takeLock(databaseLockFile(databaseFile), options, {
    what: 'the database',
    path: databaseFile,
    instead: "give this one another database.path (two servers on one database would each record blobs the other's storage does not hold, and collect the other's)",
  })
}

async function takeLock(file: string, options: LockOptions, guarded: Guarded): Promise<HeldLock> {
  await mkdir(dirname(file), { recursive: true })
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose: options.purpose, token: randomUUID() }
  const content = `${JSON.stringify(holder)}\n`
  // Known as ours from the moment the file may exist, so another lockRoot here never takes it for a stale one.
  heldHere.add(holder.token)
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await createFreeingSpace(file, content, options.onStorageFull)) return heldLock(file, holder)
      const found = await unlessMissing(readFile(file, 'utf8'))
      if (found === null) continue
      const st = await unlessMissing(stat(file))
      if (st === null) continue
      const other = parseHolder(found)
      const refreshedAgoMs = Date.now() - st.mtimeMs
      if (other !== null && (await isAlive(other, refreshedAgoMs))) throw new InUseError(guarded.path, file, other, refreshedAgoMs, guarded)
      if (await removeIfStill(file, found)) options.onStale?.(other)
    }
  } catch (err) {
    heldHere.delete(holder.token)
    throw err
  }
  heldHere.delete(holder.token)
  throw new Error(`could not take ${file}: other processes keep creating it`)
}

/** Tokens of the locks this process holds. */
const heldHere = new Set<string>()

function heldLock(file: string, holder: LockHolder): HeldLock {
  const heartbeat = setInterval(() => {
    const now = new Date()
    utimes(file, now, now).catch(() => undefined)
  }, HEARTBEAT_MS)
  heartbeat.unref()
  let released = false
  return {
    file,
    holder,
    release: async () => {
      if (released) return
      released = true
      clearInterval(heartbeat)
      heldHere.delete(holder.token)
      const current = await unlessMissing(readFile(file, 'utf8'))
      if (current !== null && parseHolder(current)?.token === holder.token) await removeFile(file)
    },
  }
}

async function createFreeingSpace(file: string, content: string, onStorageFull: (() => boolean) | undefined): Promise<boolean> {
  try {
    return await createExclusive(file, content)
  } catch (err) {
    if (!isStorageFull(err) || !onStorageFull?.()) throw err
    return createExclusive(file, content)
  }
}

/** Creates `file` with `content`, complete and durable, unless it exists (false). */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${randomUUID()}.tmp`
  try {
    const fh = await open(temp, 'wx', 0o644)
    try {
      await fh.writeFile(content)
      await fh.sync()
    } finally {
      await fh.close()
    }
    try {
      await link(temp, file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw err
    }
    await fsyncDir(dirname(file))
    return true
  } finally {
    await removeFile(temp)
  }
}

/**
 * Removes the lock if it still holds `judged` (the stale content): moved aside first, so that of
 * two processes taking over the same stale lock only one removes it, and a fresh lock someone
 * created meanwhile is put back.
 */
async function removeIfStill(file: string, judged: string): Promise<boolean> {
  const aside = `${file}.${randomUUID()}.stale`
  try {
    await rename(file, aside)
  } catch (err) {
    if (isMissing(err)) return false
    throw err
  }
  try {
    if ((await readFile(aside, 'utf8')) === judged) return true
    await link(aside, file).catch(() => undefined)
    return false
  } finally {
    await removeFile(aside)
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.startedAt === 'string' && typeof h.token === 'string') {
      return { pid: h.pid, host: h.host, startedAt: h.startedAt, purpose: typeof h.purpose === 'string' ? h.purpose : 'unknown', token: h.token }
    }
  } catch {
    // not a lock we wrote: stale
  }
  return null
}

async function isAlive(holder: LockHolder, refreshedAgoMs: number): Promise<boolean> {
  if (holder.host !== hostname()) return refreshedAgoMs < STALE_AFTER_MS
  // Our own pid: held right now by this process, or left by an earlier life with the same pid.
  if (holder.pid === process.pid) return heldHere.has(holder.token)
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // The pid runs something; on Linux, make sure it is still a Packyard (pids are reused).
  const cmdline = await readFile(`/proc/${holder.pid}/cmdline`, 'utf8').catch(() => null)
  return cmdline === null || cmdline.includes('packyard')
}
