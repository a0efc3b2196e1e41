// Checks HTTP Basic credentials against the htpasswd file and decides who may write.
// bcrypt is deliberately slow, so verified credentials are cached in memory under a sha256 of
// (user, password, stored hash): the plain password is never kept, and a changed entry
// invalidates the cache by itself. The file is re-read when its mtime, size or inode change
// (checked at most once a second). Failed attempts are counted per client address: after a
// few the answer is delayed, past `limits.loginfailures` it is 429 until the window passes.

import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { RegistryError } from '../errors.js'
import { parseHtpasswd, verifyPassword } from './htpasswd.js'

export interface Identity {
  user: string
  writer: boolean
}

export interface AuthenticatorOptions {
  realm: string
  htpasswdPath: string
  writers: string[]
  maxFailures: number
  /** Failures are forgotten after this long without a new one. */
  failureWindowMs?: number
  /** Delay added per failure beyond the third, capped at 2 s; tests set 0. */
  failureDelayMs?: number
  onProblem?: (message: string) => void
  /** The bcrypt check; tests wrap it to count calls. */
  verify?: (password: string, hash: string) => Promise<boolean>
}

const CACHE_MAX = 1024
const RELOAD_CHECK_MS = 1000

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
  private readonly failures = new Map<string, FailureRecord>()
  private readonly writers: Set<string>
  private readonly windowMs: number
  private readonly delayMs: number

  constructor(private readonly options: AuthenticatorOptions) {
    this.writers = new Set(options.writers)
    this.windowMs = options.failureWindowMs ?? 15 * 60_000
    this.delayMs = options.failureDelayMs ?? 250
  }

  get realm(): string {
    return this.options.realm
  }

  /** Reads the file now; start-up calls this so a broken file is reported at once. */
  async load(): Promise<void> {
    this.lastCheck = Date.now()
    const st = await stat(this.options.htpasswdPath)
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`
    if (stamp === this.fileStamp) return
    const parsed = parseHtpasswd(await readFile(this.options.htpasswdPath, 'utf8'))
    for (const p of parsed.problems) this.options.onProblem?.(`${this.options.htpasswdPath}: ${p}`)
    this.users = parsed.users
    this.fileStamp = stamp
  }

  private async maybeReload(): Promise<void> {
    if (Date.now() - this.lastCheck < RELOAD_CHECK_MS) return
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
    this.refuseIfThrottled(address)
    const credentials = parseBasic(authorization)
    if (!credentials) throw this.challenge('authentication required')
    await this.maybeReload()
    const hash = this.users.get(credentials.user)
    const ok = hash !== undefined && (await this.verify(credentials.user, credentials.password, hash))
    if (!ok) {
      await this.recordFailure(address)
      throw this.challenge('invalid username or password')
    }
    this.failures.delete(address)
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

  private refuseIfThrottled(address: string): void {
    const record = this.failures.get(address)
    if (!record) return
    const now = Date.now()
    if (now - record.last > this.windowMs) {
      this.failures.delete(address)
      return
    }
    if (record.count >= this.options.maxFailures) {
      const retryAfter = Math.ceil((record.last + this.windowMs - now) / 1000)
      throw new RegistryError(
        'TOO_MANY_REQUESTS',
        `too many failed logins from ${address}; try again in ${retryAfter} s`,
        { retryAfterSeconds: retryAfter },
        { 'retry-after': String(retryAfter) },
      )
    }
  }

  private async recordFailure(address: string): Promise<void> {
    const record = this.failures.get(address) ?? { count: 0, last: 0 }
    record.count += 1
    record.last = Date.now()
    this.failures.set(address, record)
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string)
    const delay = Math.min(2000, Math.max(0, record.count - 3) * this.delayMs)
    if (delay > 0) await new Promise((r) => setTimeout(r, delay))
  }

  private challenge(message: string): RegistryError {
    return new RegistryError('UNAUTHORIZED', message, undefined, { 'www-authenticate': `Basic realm="${this.options.realm}"` })
  }
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
