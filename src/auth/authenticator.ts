// Checks HTTP Basic credentials against the htpasswd file and decides who may write.
// bcrypt is deliberately slow, so verified credentials are cached in memory under a sha256 of
// (user, password, stored hash): the plain password is never kept, and a changed entry
// invalidates the cache by itself. The file is re-read when its mtime, size or inode change
// (checked at most once a second). With in-memory storage and no file, the users are given.
//
// Failed attempts are counted per (client address, user name): after a few the answer is
// delayed, past `limits.loginfailures` that pair gets 429 until the lockout passes. Behind NAT
// or a proxy many clients share an address, so one misconfigured job must not lock out Palette:
// a separate, much higher ceiling (`limits.addressloginfailures`) applies to the address as a
// whole. An unknown user name is checked against a dummy hash of the same bcrypt cost, so
// timing does not tell which names exist. Failures are counted in the database (LoginFailures),
// so a lockout holds on every replica and across restarts: this process knows the counts of the
// failures it saw, and every replica's recent failures, read again at most once a second, so a
// request costs no database round trip for them, and a login here clears failures counted
// elsewhere. While the database cannot be reached, failures are counted here alone: logging in
// never fails because of the count.

import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { RegistryError } from '../errors.js'
import type { LoginFailures } from '../meta/login-failures.js'
import { hashPassword, parseHtpasswd, verifyPassword } from './htpasswd.js'

export interface Identity {
  user: string
  writer: boolean
}

export interface AuthenticatorOptions {
  realm: string
  /** The htpasswd file, or null: the users are `inMemoryUsers` (in-memory storage). */
  htpasswdPath: string | null
  /** user → bcrypt hash, when there is no file. */
  inMemoryUsers?: ReadonlyMap<string, string>
  writers: string[]
  /** Failures of one user name from one address before 429. */
  maxFailures: number
  /** Failures from one address, whatever the user names, before 429. */
  maxAddressFailures?: number
  /** Failures are forgotten (and a lockout lifted) this long after the last one. */
  failureWindowMs?: number
  /** Where failures are counted: the database every replica shares. */
  failures: LoginFailures
  /** How often the lockouts of every replica are read again; tests set 0. */
  lockoutRefreshMs?: number
  /** Delay added per failure beyond the third, capped at 2 s; tests set 0. */
  failureDelayMs?: number
  onProblem?: (message: string) => void
  /** Called for every credential refused (wrong password or unknown user; not a missing one). */
  onFailure?: (failure: { address: string; user: string }) => void
  /**
   * Called once when an address, or a user name from an address, becomes locked out; `user` as
   * nameToRecord gives it (a hash label for a name that is not a user), null for the address.
   */
  onLockout?: (lockout: { address: string; user: string | null; failures: number; forMs: number }) => void
  /** Called with the users after every load that found the file changed (start-up included). */
  onUsersLoaded?: (users: ReadonlyMap<string, string>) => void
  /** The bcrypt check; tests wrap it to count calls. */
  verify?: (password: string, hash: string) => Promise<boolean>
}

const CACHE_MAX = 1024
const RELOAD_CHECK_MS = 1000
/** How often failures past the window are deleted from the database. */
const FORGET_EVERY_MS = 60_000

interface FailureRecord {
  count: number
  last: number
}

export class Authenticator {
  private users = new Map<string, string>()
  private fileStamp = ''
  private lastCheck = 0
  private reloading: Promise<void> | null = null
  private readonly verified = new Map<string, string>()
  private readonly inFlight = new Map<string, Promise<boolean>>()
  /** Failures seen here, as the database counted them; keyed by address, and by pairKey. */
  private readonly failures = new Map<string, FailureRecord>()
  /** Every replica's recent failures, as last read from the database. */
  private others = new Map<string, FailureRecord>()
  private othersReadAt = 0
  private readingOthers: Promise<void> | null = null
  private forgottenAt = 0
  /** The database could not be read or written for failures (said once, until it can again). */
  private othersUnreadable = false
  private writers: Set<string>
  private readonly windowMs: number
  private readonly delayMs: number
  private readonly maxAddressFailures: number
  /** A hash of the file's usual bcrypt cost, for user names that are not in the file. */
  private dummyHash: string | null = null

  constructor(private readonly options: AuthenticatorOptions) {
    this.writers = new Set(options.writers)
    this.windowMs = options.failureWindowMs ?? 15 * 60_000
    this.delayMs = options.failureDelayMs ?? 250
    this.maxAddressFailures = options.maxAddressFailures ?? options.maxFailures * 10
  }

  get realm(): string {
    return this.options.realm
  }

  /** auth.access.writers as reloaded from the config file: applies from the next request on. */
  setWriters(writers: readonly string[]): void {
    this.writers = new Set(writers)
  }

  /** Reads the file now; start-up calls this so a broken file is reported at once. */
  async load(): Promise<void> {
    this.lastCheck = Date.now()
    const path = this.options.htpasswdPath
    if (path === null) {
      this.users = new Map(this.options.inMemoryUsers)
      this.dummyHash = await dummyHashFor([...this.users.values()], this.dummyHash)
      this.options.onUsersLoaded?.(this.users)
      return
    }
    const st = await stat(path)
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`
    if (stamp === this.fileStamp) return
    const parsed = parseHtpasswd(await readFile(path, 'utf8'))
    for (const p of parsed.problems) this.options.onProblem?.(`${path}: ${p}`)
    this.dummyHash = await dummyHashFor([...parsed.users.values()], this.dummyHash)
    this.users = parsed.users
    this.fileStamp = stamp
    this.options.onUsersLoaded?.(this.users)
  }

  private async maybeReload(): Promise<void> {
    if (this.options.htpasswdPath === null || Date.now() - this.lastCheck < RELOAD_CHECK_MS) return
    this.reloading ??= this.load()
      .catch((err: NodeJS.ErrnoException) => {
        // Keep serving with the last good copy; an operator mid-edit must not lock everyone out.
        this.options.onProblem?.(`cannot reload ${this.options.htpasswdPath}: ${err.code ?? err.message}`)
      })
      .finally(() => {
        this.reloading = null
      })
    await this.reloading
  }

  /** Returns the identity for an Authorization header, or throws UNAUTHORIZED / TOO_MANY_REQUESTS. */
  async authenticate(authorization: string | undefined, address: string): Promise<Identity> {
    await this.readOthers()
    this.refuseIfLocked(address, this.maxAddressFailures, address)
    const credentials = parseBasic(authorization)
    if (!credentials) throw this.challenge('authentication required')
    const pair = pairKey(address, credentials.user)
    this.refuseIfLocked(pair, this.options.maxFailures, `${address} as ${credentials.user}`)
    await this.maybeReload()
    const hash = this.users.get(credentials.user)
    let ok: boolean
    if (hash === undefined) {
      // The same bcrypt work as a wrong password, then no.
      if (this.dummyHash) await (this.options.verify ?? verifyPassword)(credentials.password, this.dummyHash)
      ok = false
    } else {
      ok = await this.verify(credentials.user, credentials.password, hash)
    }
    if (!ok) {
      await this.recordFailure(address, credentials.user)
      throw this.challenge('invalid username or password')
    }
    if (this.failures.has(pair) || this.others.has(pair)) {
      this.failures.delete(pair)
      this.others.delete(pair)
      await this.options.failures.clear(pair).then(() => this.databaseBack(), (err: unknown) => this.databaseFailed(err))
    }
    return { user: credentials.user, writer: this.writers.has(credentials.user) }
  }

  private async verify(user: string, password: string, hash: string): Promise<boolean> {
    const key = createHash('sha256').update(user).update('\0').update(password).update('\0').update(hash).digest('hex')
    if (this.verified.get(key) === user) return true
    let pending = this.inFlight.get(key)
    if (!pending) {
      pending = (this.options.verify ?? verifyPassword)(password, hash).finally(() => this.inFlight.delete(key))
      this.inFlight.set(key, pending)
    }
    const ok = await pending
    if (ok) {
      if (this.verified.size >= CACHE_MAX) this.verified.delete(this.verified.keys().next().value as string)
      this.verified.set(key, user)
    }
    return ok
  }

  /**
   * Reads every replica's recent failures again when the last read is older than
   * lockoutRefreshMs (one read shared by the requests that arrive meanwhile), and now and then
   * deletes old failures. A database that cannot be read keeps the last ones known.
   */
  private async readOthers(): Promise<void> {
    const now = Date.now()
    if (now - this.othersReadAt < (this.options.lockoutRefreshMs ?? 1000)) return
    this.readingOthers ??= (async () => {
      const since = now - this.windowMs
      if (now - this.forgottenAt >= FORGET_EVERY_MS) {
        await this.options.failures.forgetBefore(since)
        this.forgottenAt = now
      }
      const rows = await this.options.failures.recent(since)
      this.others = new Map(rows.map((row) => [row.key, { count: row.count, last: row.last }]))
      this.othersReadAt = now
      this.databaseBack()
    })()
      .catch((err: unknown) => this.databaseFailed(err))
      .finally(() => {
        this.readingOthers = null
      })
    await this.readingOthers
  }

  private refuseIfLocked(key: string, max: number, who: string): void {
    const [here, anywhere] = [this.failures.get(key), this.others.get(key)]
    // The higher count: the database's when it was read after this process's last failure, this
    // process's own when the read is older (or the database is unreachable).
    const record = here && anywhere ? { count: Math.max(here.count, anywhere.count), last: Math.max(here.last, anywhere.last) } : (here ?? anywhere)
    if (!record) return
    const now = Date.now()
    if (now - record.last > this.windowMs) {
      this.failures.delete(key)
      this.others.delete(key)
      return
    }
    if (record.count >= max) {
      const retryAfter = Math.ceil((record.last + this.windowMs - now) / 1000)
      throw new RegistryError(
        'TOO_MANY_REQUESTS',
        `too many failed logins from ${who}; try again in ${retryAfter} s`,
        { retryAfterSeconds: retryAfter },
        { 'retry-after': String(retryAfter) },
      )
    }
  }

  private async recordFailure(address: string, user: string): Promise<void> {
    this.options.onFailure?.({ address, user })
    const [pair, whole] = (await this.count([pairKey(address, user), address])) as [number, number]
    if (pair === this.options.maxFailures) this.options.onLockout?.({ address, user: this.nameToRecord(user), failures: pair, forMs: this.windowMs })
    if (whole === this.maxAddressFailures) this.options.onLockout?.({ address, user: null, failures: whole, forMs: this.windowMs })
    const delay = Math.min(2000, Math.max(0, pair - 3) * this.delayMs)
    if (delay > 0) await new Promise((r) => setTimeout(r, delay))
  }

  /**
   * A user name as logs and the event log may keep it: a known user's name; for any other, a
   * label with a hash, since what was typed there is the client's (sometimes a password) and
   * the event log keeps it for good.
   */
  private nameToRecord(user: string): string {
    if (this.users.has(user)) return user
    return `(unknown user ${createHash('sha256').update(user).digest('hex').slice(0, 12)})`
  }

  private databaseFailed(err: unknown): void {
    if (!this.othersUnreadable) this.options.onProblem?.(`cannot count failed logins in the database (${err instanceof Error ? err.message : String(err)}); counting them in this process until it can`)
    this.othersUnreadable = true
  }

  private databaseBack(): void {
    this.othersUnreadable = false
  }

  /** Counts one more failure under each key, in the database (here alone while it fails), and returns the counts. */
  private async count(keys: string[]): Promise<number[]> {
    const now = Date.now()
    const counts = await this.options.failures.count(keys, now, now - this.windowMs).then(
      (counted) => {
        this.databaseBack()
        return counted
      },
      (err: unknown) => {
        this.databaseFailed(err)
        return keys.map((key) => {
          const record = this.failures.get(key)
          return record && now - record.last <= this.windowMs ? record.count + 1 : 1
        })
      },
    )
    keys.forEach((key, i) => {
      this.failures.delete(key)
      this.failures.set(key, { count: counts[i] as number, last: now })
    })
    // Bounded memory: the oldest record goes first (the map keeps insertion order).
    while (this.failures.size > 100_000) this.failures.delete(this.failures.keys().next().value as string)
    return counts
  }

  private challenge(message: string): RegistryError {
    return new RegistryError('UNAUTHORIZED', message, undefined, { 'www-authenticate': `Basic realm="${this.options.realm}"` })
  }
}

/**
 * The key of one user name from one address: the name as a hash, since what is typed there is
 * sometimes a password, and the database keeps the key for the lockout window. Addresses hold
 * no space, so the key cannot be mistaken for another address's.
 */
function pairKey(address: string, user: string): string {
  return `${address} ${createHash('sha256').update(user).digest('hex').slice(0, 32)}`
}

export function parseBasic(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return null
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return null
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

const BCRYPT_COST_RE = /^\$2[abxy]?\$(\d{2})\$/

/**
 * A hash of a random password at the cost most entries use, made once per cost (bcrypt at
 * the cost of the real entries is what makes an unknown name take as long as a known one).
 */
async function dummyHashFor(hashes: string[], previous: string | null): Promise<string | null> {
  const costs = new Map<number, number>()
  for (const hash of hashes) {
    const cost = Number(BCRYPT_COST_RE.exec(hash)?.[1])
    if (Number.isInteger(cost)) costs.set(cost, (costs.get(cost) ?? 0) + 1)
  }
  const usual = [...costs].sort((a, b) => b[1] - a[1])[0]?.[0]
  if (usual === undefined) return previous
  if (previous && BCRYPT_COST_RE.exec(previous)?.[1] === String(usual).padStart(2, '0')) return previous
  return hashPassword(randomBytes(16).toString('hex'), usual)
}
