// Let's Encrypt (http.tls.letsencrypt): one certificate for all `hosts`, ordered over ACME with
// acme-client. Challenges are answered by Packyard itself: TLS-ALPN-01 on the TLS listener
// (alpn-challenge.ts), HTTP-01 on httpaddr when it is set (http-challenge.ts, preferred then,
// since the operator opened port 80 for it). The certificate is kept in the cache file and
// reused across restarts; without a usable one, start-up waits for the first order (up to
// starttimeout). It is renewed in the background once a third of its lifetime, at most 30 days,
// remains, and swapped in for new handshakes only. Every failure is logged with the ACME problem
// type and detail and retried with backoff while the current certificate keeps being served.
// Replicas on one database order one at a time (`turns`): each order begins by reading the
// cache file again, so with the file on storage the replicas share, the certificate another
// replica just obtained is taken instead of ordering a second one.
// Loaded only when configured (index.ts).

import { AsyncLocalStorage } from 'node:async_hooks'
import type { RequestListener } from 'node:http'
import type https from 'node:https'
import tls from 'node:tls'
import * as acme from 'acme-client'
import type { FastifyBaseLogger } from 'fastify'
import type { LetsEncrypt } from '../config/load.js'
import { type AcmeCache, readAcmeCache, writeAcmeCache } from './acme-cache.js'
import { answerTlsAlpnChallenges } from './alpn-challenge.js'
import { certificateFields, checkPair } from './certificates.js'
import { httpChallengeHandler } from './http-challenge.js'
import type { CertificatePair, TlsServers, TlsService } from './servers.js'

const DAY_MS = 24 * 3600_000
/** Renew when this much (or a third of the lifetime, if less) remains. */
const RENEW_BEFORE_MS = 30 * DAY_MS
/** Retries after failures: 30 s, 1 min, 2 min, ... at most hourly. */
const RETRY_FIRST_MS = 30_000
const RETRY_MAX_MS = 3600_000
/** setTimeout cannot wait longer than 2^31 - 1 ms; longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface AcmeProblem {
  type: string
  detail: string
}

/** An order that failed, with the ACME problem the server gave for it (if it gave one). */
export class AcmeFailure extends Error {
  constructor(
    readonly problem: AcmeProblem | null,
    cause: unknown,
  ) {
    super(problem ? `${problem.type}: ${problem.detail}` : (cause as Error).message ?? String(cause))
    this.name = 'AcmeFailure'
  }
}

// acme-client reports only the detail of a problem document; the type is picked up here from
// every response its HTTP client receives, into the order that is running.
const orderProblems = new AsyncLocalStorage<AcmeProblem[]>()
// A hung ACME server must fail the attempt (which is then retried), not stall renewals forever.
acme.axios.defaults.timeout = 60_000
acme.axios.interceptors.response.use((response) => {
  const found = orderProblems.getStore()
  if (found) found.push(...problemsIn(response.data))
  return response
})

function problemsIn(data: unknown): AcmeProblem[] {
  const asProblem = (p: unknown): AcmeProblem[] => {
    const q = p as { type?: unknown; detail?: unknown } | null
    if (!q || typeof q.type !== 'string' || !q.type.startsWith('urn:ietf:params:acme:error:')) return []
    // A bad nonce is retried by acme-client itself.
    if (q.type === 'urn:ietf:params:acme:error:badNonce') return []
    return [{ type: q.type, detail: typeof q.detail === 'string' ? q.detail : '' }]
  }
  const d = data as { error?: unknown; challenges?: Array<{ error?: unknown }> } | null
  if (!d || typeof d !== 'object') return []
  return [...asProblem(d), ...asProblem(d.error), ...(Array.isArray(d.challenges) ? d.challenges.flatMap((c) => asProblem(c?.error)) : [])]
}

/** Runs an order once no other replica runs one (Database.exclusively, waiting for its turn). */
export type OrderTurns = (order: () => Promise<void>) => Promise<void>

export class LetsEncryptCertificates implements TlsService {
  readonly httpHandler: RequestListener | null
  readonly serverFactory: TlsService['serverFactory']
  /** HTTP-01: token → key authorization, while the ACME server validates. */
  private readonly httpTokens = new Map<string, string>()
  /** TLS-ALPN-01: host → challenge certificate, while the ACME server validates. */
  private readonly alpnChallenges = new Map<string, tls.SecureContext>()
  private readonly challengeTypes: string[]
  private ordering: Promise<AcmeFailure | null> | null = null
  private failures = 0
  private timer: NodeJS.Timeout | null = null
  private wake: (() => void) | null = null
  private closed = false

  static async load(config: LetsEncrypt, servers: TlsServers, log: FastifyBaseLogger, turns: OrderTurns): Promise<LetsEncryptCertificates> {
    const cache = await readAcmeCache(config.cachefile)
    // Written back at once: a cache file that cannot be written stops start-up here, naming
    // it, instead of failing every ACME order until http.tls.letsencrypt.starttimeout.
    await writeAcmeCache(config.cachefile, cache)
    return new LetsEncryptCertificates(config, servers, log, cache, turns)
  }

  private constructor(
    private readonly config: LetsEncrypt,
    private readonly servers: TlsServers,
    private readonly log: FastifyBaseLogger,
    private cache: AcmeCache,
    private readonly turns: OrderTurns,
  ) {
    this.challengeTypes = config.httpAddr ? ['http-01', 'tls-alpn-01'] : ['tls-alpn-01']
    const cached = this.usableCachedCertificate()
    if (cached) servers.serve(cached)
    this.httpHandler = config.httpAddr
      ? httpChallengeHandler(
          config.hosts,
          (token) => this.httpTokens.get(token),
          (token) => log.info({ challenge: 'http-01', token }, 'answered an ACME challenge'),
        )
      : null
    this.serverFactory = (handler, options): https.Server => {
      const server = servers.serverFactory(handler, options)
      answerTlsAlpnChallenges(
        server,
        (host) => this.alpnChallenges.get(host),
        (host) => log.info({ challenge: 'tls-alpn-01', host }, 'answered an ACME challenge'),
      )
      return server
    }
  }

  async start(): Promise<void> {
    const current = this.servers.current
    if (current) {
      this.log.info({ ...certificateFields(current), renewAt: new Date(renewAt(current)).toISOString() }, 'serving the certificate from http.tls.letsencrypt.cachefile')
      this.scheduleCheck()
      return
    }
    const { hosts, directoryUrl, startTimeoutMs } = this.config
    this.log.info(
      { hosts, directoryUrl, challenges: this.challengeTypes, waitMs: startTimeoutMs },
      `obtaining a certificate over ACME; start-up waits for it (at most ${seconds(startTimeoutMs)}, http.tls.letsencrypt.starttimeout)`,
    )
    const deadline = Date.now() + startTimeoutMs
    let failure: AcmeFailure | null = null
    while (!this.closed) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) break
      const outcome = await raceTimeout(this.attempt(), remaining)
      if (outcome === null) {
        this.scheduleCheck()
        return
      }
      if (outcome === 'timeout') break
      failure = outcome
      const retryInMs = Math.min(this.backoff(), deadline - Date.now())
      this.logFailure(outcome, retryInMs > 0 ? retryInMs : null)
      await this.pause(retryInMs)
    }
    if (this.closed) return
    throw new Error(
      `http.tls.letsencrypt: no certificate for ${hosts.join(', ')} from ${directoryUrl} within ${seconds(startTimeoutMs)} (http.tls.letsencrypt.starttimeout): ` +
        (failure ? failure.message : 'the ACME order had not finished'),
    )
  }

  async reload(): Promise<void> {
    const current = this.servers.current
    if (this.ordering) {
      this.log.info('SIGHUP: an ACME order is already running')
    } else if (current && renewAt(current) > Date.now()) {
      this.log.info({ ...certificateFields(current), renewAt: new Date(renewAt(current)).toISOString() }, 'SIGHUP: the certificate is not due for renewal')
    } else if (this.wake) {
      this.log.info('SIGHUP: retrying the ACME order now')
      this.wake()
    } else {
      this.log.info('SIGHUP: renewing the certificate now')
      await this.check()
    }
  }

  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.wake?.()
  }

  /** The cached certificate, if it is from this directory, covers every host and has not expired. */
  private usableCachedCertificate(): CertificatePair | null {
    const cached = this.cache.certificate
    if (!cached) return null
    const why = (reason: string) => {
      this.log.info({ cachefile: this.config.cachefile }, `not using the cached certificate: ${reason}; ordering a new one`)
      return null
    }
    if (cached.directoryUrl !== this.config.directoryUrl) return why(`it comes from ${cached.directoryUrl}`)
    let pair: CertificatePair
    try {
      pair = checkPair(Buffer.from(cached.chain), Buffer.from(cached.key), this.cacheSources())
    } catch (err) {
      return why((err as Error).message)
    }
    const missing = this.config.hosts.filter((host) => pair.leaf.checkHost(host) === undefined)
    if (missing.length > 0) return why(`it does not cover ${missing.join(', ')}`)
    if (pair.notAfter.getTime() <= Date.now()) return why(`it expired on ${pair.notAfter.toISOString()}`)
    return pair
  }

  /** One order at a time; resolves to null on success, or the failure. */
  private attempt(): Promise<AcmeFailure | null> {
    this.ordering ??= this.order()
      .then(
        () => {
          this.failures = 0
          return null
        },
        (err: unknown) => {
          this.failures += 1
          return err instanceof AcmeFailure ? err : new AcmeFailure(null, err)
        },
      )
      .finally(() => {
        this.ordering = null
      })
    return this.ordering
  }

  private async order(): Promise<void> {
    await this.turns(async () => {
      // Another replica may have renewed meanwhile, into a cache file they share.
      this.cache = await readAcmeCache(this.config.cachefile)
      const cached = this.usableCachedCertificate()
      if (cached && renewAt(cached) > Date.now()) {
        if (this.closed) return
        this.servers.serve(cached)
        this.log.info({ ...certificateFields(cached), renewAt: new Date(renewAt(cached)).toISOString() }, 'serving the certificate another replica obtained (http.tls.letsencrypt.cachefile)')
        return
      }
      const found: AcmeProblem[] = []
      try {
        await orderProblems.run(found, () => this.orderCertificate())
      } catch (err) {
        throw new AcmeFailure(found.at(-1) ?? null, err)
      }
    })
  }

  private async orderCertificate(): Promise<void> {
    const { hosts, directoryUrl } = this.config
    const client = await this.client()
    const [key, csr] = await acme.crypto.createCsr({ commonName: hosts[0] as string, altNames: hosts }, await acme.crypto.createPrivateEcdsaKey())
    const chain = await client.auto({
      csr,
      // Validation is the ACME server's job; checking from here first would go through this
      // machine's own view of DNS and routing, which is often not the world's.
      skipChallengeVerification: true,
      challengePriority: this.challengeTypes,
      challengeCreateFn: (authz, challenge, keyAuthorization) => this.present(authz, challenge, keyAuthorization),
      challengeRemoveFn: async (authz, challenge) => {
        this.alpnChallenges.delete(authz.identifier.value)
        if ('token' in challenge) this.httpTokens.delete(challenge.token)
      },
    })
    const pair = checkPair(Buffer.from(chain), key, this.cacheSources())
    this.cache = { ...this.cache, certificate: { directoryUrl, chain, key: key.toString() } }
    await writeAcmeCache(this.config.cachefile, this.cache)
    if (this.closed) return
    this.servers.serve(pair)
    this.log.info({ ...certificateFields(pair), renewAt: new Date(renewAt(pair)).toISOString() }, 'obtained a certificate over ACME')
  }

  private async present(authz: acme.Authorization, challenge: { type: string; token?: string }, keyAuthorization: string): Promise<void> {
    const host = authz.identifier.value
    if (challenge.type === 'http-01' && challenge.token) {
      this.httpTokens.set(challenge.token, keyAuthorization)
    } else if (challenge.type === 'tls-alpn-01') {
      const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization)
      this.alpnChallenges.set(host, tls.createSecureContext({ key, cert }))
    } else {
      const offered = authz.challenges.map((c) => c.type).join(', ')
      throw new Error(`the ACME server offers no challenge Packyard answers for ${host} (it offers ${offered}; Packyard answers ${this.challengeTypes.join(', ')})`)
    }
    this.log.info({ host, challenge: challenge.type }, 'ACME challenge ready for validation')
  }

  /**
   * A client of the ACME directory with this registry's account, registered (and saved) on
   * first use there. The key is saved before the registration, so a failed order never leaves
   * an account behind that the next attempt does not know.
   */
  private async client(): Promise<acme.Client> {
    const { directoryUrl, email } = this.config
    if (!this.cache.accountKey) {
      this.cache = { ...this.cache, accountKey: (await acme.crypto.createPrivateEcdsaKey()).toString(), accounts: {} }
      await writeAcmeCache(this.config.cachefile, this.cache)
    }
    const accountUrl = this.cache.accounts[directoryUrl]
    const client = new acme.Client({ directoryUrl, accountKey: this.cache.accountKey as string, backoffMin: 1000, ...(accountUrl ? { accountUrl } : {}) })
    if (!accountUrl) {
      await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) })
      this.cache = { ...this.cache, accounts: { ...this.cache.accounts, [directoryUrl]: client.getAccountUrl() } }
      await writeAcmeCache(this.config.cachefile, this.cache)
      this.log.info({ directoryUrl, account: client.getAccountUrl() }, 'registered an ACME account (terms of service agreed)')
    }
    return client
  }

  private cacheSources() {
    const source = { setting: 'http.tls.letsencrypt.cachefile', path: this.config.cachefile }
    return { certificate: source, key: source }
  }

  /** Renews when due, then plans the next check (or a retry after a failure). */
  private async check(): Promise<void> {
    if (this.closed) return
    const current = this.servers.current
    if (current && renewAt(current) > Date.now()) {
      this.scheduleCheck()
      return
    }
    this.log.info(current ? certificateFields(current) : {}, 'renewing the certificate over ACME')
    const failure = await this.attempt()
    if (this.closed) return
    if (failure === null) {
      this.scheduleCheck()
      return
    }
    const retryInMs = this.backoff()
    this.logFailure(failure, retryInMs)
    this.scheduleCheck(retryInMs)
  }

  private scheduleCheck(delayMs?: number): void {
    if (this.timer) clearTimeout(this.timer)
    const current = this.servers.current
    const due = delayMs ?? (current ? renewAt(current) - Date.now() : 0)
    this.timer = setTimeout(() => void this.check(), Math.max(0, Math.min(due, MAX_TIMER_MS)))
    this.timer.unref()
  }

  private backoff(): number {
    return Math.min(RETRY_FIRST_MS * 2 ** Math.max(0, this.failures - 1), RETRY_MAX_MS)
  }

  /** Waits `ms`, or less if SIGHUP or close() cuts it short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      this.wake = done
    })
  }

  private logFailure(failure: AcmeFailure, retryInMs: number | null): void {
    const current = this.servers.current
    this.log.warn(
      {
        hosts: this.config.hosts,
        directoryUrl: this.config.directoryUrl,
        acmeProblem: failure.problem?.type,
        detail: failure.problem?.detail ?? failure.message,
        failures: this.failures,
        ...(retryInMs !== null ? { retryInMs } : {}),
        ...(current ? { servingUntil: current.notAfter.toISOString() } : {}),
      },
      `ACME order failed: ${failure.message}`,
    )
  }
}

/** When to renew: a third of the lifetime, at most 30 days, before the end. */
export function renewAt(pair: CertificatePair): number {
  const notBefore = new Date(pair.leaf.validFrom).getTime()
  const notAfter = pair.notAfter.getTime()
  return notAfter - Math.min(RENEW_BEFORE_MS, (notAfter - notBefore) / 3)
}

async function raceTimeout<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 100) / 10}s`
}
