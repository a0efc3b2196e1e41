// The client side of one upstream registry (sync.registries[] entry): lists its packs and their
// tags (paged catalog and tags lists, following Link headers), reads manifests and opens blob
// downloads, over the distribution API at /v1 (spectro-registry, Packyard) or an OCI registry's
// /v2 with packs at <basepath>/spectro-packs/archive/<name>. Basic credentials go to the
// upstream's own host only: a blob download redirected elsewhere (a bucket's pre-signed URL)
// is followed without them, and nothing else follows redirects. Credentials never appear in an
// error message.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { parse as parseYaml } from 'yaml'
import type { SyncRegistryConfig } from '../config/sync.js'
import { followedLink } from '../pages.js'
import { systemCertificates } from '../system-certificates.js'
import { RegistryError } from '../errors.js'
import { packNameProblem } from '../packs/names.js'

/** A silent connection (no bytes either way) this long is given up on. */
const IDLE_TIMEOUT_MS = 60_000
const MAX_REDIRECTS = 5
const PACK_NAMESPACE = 'spectro-packs/archive'
const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ')
const MAX_LIST_BYTES = 16 * 1024 * 1024
/** Bounds on one paged listing (catalog, tags, referrers): past them the upstream is refused, not followed. */
const MAX_PAGES = 10_000
const MAX_ITEMS = 100_000

/** An upstream's refusal or a network failure, in words that name the upstream but no secret. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** Worth retrying: a network failure, 429 or a 5xx. */
    readonly transient: boolean,
    readonly status: number | null = null,
  ) {
    super(message)
    this.name = 'UpstreamError'
  }
}

export interface UpstreamManifest {
  body: Buffer
  contentType: string | undefined
  digest: string
}

export class Upstream {
  /** `url` or `url/basepath`: how events, metrics and the registry page name this upstream. */
  readonly label: string
  private readonly ca: string[] | undefined
  private readonly auth: string | null
  /** Bearer tokens of the token flow, by repository (or `_catalog`). */
  private readonly tokens = new Map<string, string>()

  constructor(
    private readonly config: SyncRegistryConfig,
    /** limits.manifestsize: a larger manifest (or referrer) is refused as a push of it would be. */
    private readonly manifestSize: number,
    env: NodeJS.ProcessEnv = process.env,
    /** Once aborted (the registry is closing), every request in progress, blob downloads too, is ended. */
    private readonly signal?: AbortSignal,
  ) {
    this.label = config.basePath === '' ? config.url : `${config.url}/${config.basePath}`
    this.ca = config.certDir === null ? undefined : [...rootCertificates, ...systemCertificates(env), ...certificatesIn(config.certDir)]
    this.auth = credentials(config)
  }

  /** Pack names the upstream lists, in its order. */
  async packs(): Promise<string[]> {
    const names: string[] = []
    const prefix = this.config.api === 'v1' ? '' : `${this.config.basePath === '' ? '' : `${this.config.basePath}/`}${PACK_NAMESPACE}/`
    for await (const repo of this.listing(`/${this.config.api}/_catalog?n=1000`, 'repositories')) {
      if (typeof repo !== 'string' || !repo.startsWith(prefix)) continue
      const name = repo.slice(prefix.length)
      if (packNameProblem(name) === null) names.push(name)
    }
    return names
  }

  async tags(pack: string): Promise<string[]> {
    const tags: string[] = []
    for await (const tag of this.listing(`${this.repository(pack)}/tags/list?n=1000`, 'tags')) if (typeof tag === 'string') tags.push(tag)
    return tags
  }

  /** By tag, or by digest. */
  async manifest(pack: string, reference: string): Promise<UpstreamManifest> {
    const res = await this.get(`${this.repository(pack)}/manifests/${reference.startsWith('sha256:') ? reference : encodeURIComponent(reference)}`, { accept: MANIFEST_TYPES }, false)
    const tooLarge = () => new RegistryError('PAYLOAD_TOO_LARGE', `${pack}@${reference} at ${this.label}: the manifest is larger than the limit of ${this.manifestSize} bytes (limits.manifestsize)`, { limit: this.manifestSize })
    if (Number(res.headers['content-length']) > this.manifestSize) {
      res.destroy()
      throw tooLarge()
    }
    const body = await readBody(res, this.manifestSize, tooLarge)
    return { body, contentType: res.headers['content-type'], digest: `sha256:${createHash('sha256').update(body).digest('hex')}` }
  }

  /** The manifests whose subject is `digest` (signatures, SBOMs); none when the upstream has no referrers API. */
  async referrers(pack: string, digest: string): Promise<Array<{ digest: string; size: number }>> {
    const found: Array<{ digest: string; size: number }> = []
    try {
      for await (const item of this.listing(`${this.repository(pack)}/referrers/${digest}`, 'manifests')) {
        const m = (item ?? {}) as { digest?: unknown; size?: unknown }
        if (typeof m.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(m.digest) && typeof m.size === 'number') found.push({ digest: m.digest, size: m.size })
      }
    } catch (err) {
      if (err instanceof UpstreamError && (err.status === 404 || err.status === 400 || err.status === 405)) return []
      throw err
    }
    return found
  }

  /** The blob's bytes as the upstream sends them; the caller verifies the digest as they stream in. */
  blob(pack: string, digest: string): Promise<IncomingMessage> {
    return this.get(`${this.repository(pack)}/blobs/${digest}`, {}, true)
  }

  private repository(pack: string): string {
    if (this.config.api === 'v1') return `/v1/${pack}`
    return `/v2/${this.config.basePath === '' ? '' : `${this.config.basePath}/`}${PACK_NAMESPACE}/${pack}`
  }

  /**
   * The items under `key` of every page of a paged listing, following `rel="next"` links on the
   * upstream's own origin only. A page asked twice, more than MAX_PAGES pages or MAX_ITEMS items
   * end the listing with a (non-transient) error rather than following the upstream forever.
   */
  private async *listing(first: string, key: string): AsyncIterable<unknown> {
    const seen = new Set<string>()
    let count = 0
    for (let path: string | null = first; path !== null; ) {
      if (seen.has(path)) throw new UpstreamError(`${this.label}: its listing sends ${path} again as the next page`, false)
      if (seen.size >= MAX_PAGES) throw new UpstreamError(`${this.label}: its listing from ${first} has more than ${MAX_PAGES} pages`, false)
      seen.add(path)
      const res = await this.get(path, { accept: 'application/json' }, false)
      const text = (await readBody(res, MAX_LIST_BYTES)).toString('utf8')
      let page: unknown
      try {
        page = JSON.parse(text)
      } catch {
        throw new UpstreamError(`${this.label}${path}: the answer is not JSON`, false)
      }
      const items = (page as Record<string, unknown> | null)?.[key]
      if (Array.isArray(items)) {
        count += items.length
        if (count > MAX_ITEMS) throw new UpstreamError(`${this.label}: its listing from ${first} has more than ${MAX_ITEMS} entries`, false)
        yield* items
      }
      path = followedLink(res.headers.link, this.config.url)
    }
  }

  /**
   * A 2xx answer to GET `path`; redirects only when `redirects` (blob downloads). An upstream that
   * answers 401 with a Bearer challenge (the distribution token flow: Harbor, Docker Hub...) gets
   * the request again with a token from its realm, kept per repository for the next requests.
   */
  private async get(path: string, headers: Record<string, string>, redirects: boolean): Promise<IncomingMessage> {
    let url = new URL(path, this.config.url)
    const scope = scopeKey(path)
    let challenged = false
    for (let hop = 0; ; hop++) {
      const own = url.origin === this.config.url
      const token = this.tokens.get(scope)
      const authorization = token ? `Bearer ${token}` : this.auth
      const res = await this.send(url, { 'user-agent': 'packyard-sync', ...headers, ...(own && authorization ? { authorization } : {}) })
      const status = res.statusCode ?? 0
      if (status >= 200 && status < 300) return res
      res.resume()
      const challenge = own && status === 401 && !challenged ? bearerChallenge(res.headers['www-authenticate']) : null
      if (challenge) {
        challenged = true
        this.tokens.set(scope, await this.token(challenge))
        hop--
        continue
      }
      const location = res.headers.location
      if (redirects && [301, 302, 303, 307, 308].includes(status) && location && hop < MAX_REDIRECTS) {
        url = new URL(location, url)
        continue
      }
      const where = `${this.label}: GET ${own ? url.pathname : url.origin + url.pathname}`
      if (status === 401 || status === 403) throw new UpstreamError(`${where} answered ${status}: check the username and password (or credentialsfile) of this upstream`, false, status)
      throw new UpstreamError(`${where} answered ${status}`, status === 429 || status >= 500, status)
    }
  }

  /** A token from the challenge's realm, asked with the upstream's credentials (only over HTTPS or on the upstream's own origin). */
  private async token(challenge: URL): Promise<string> {
    const trusted = challenge.protocol === 'https:' || challenge.origin === this.config.url
    const res = await this.send(challenge, { 'user-agent': 'packyard-sync', accept: 'application/json', ...(trusted && this.auth ? { authorization: this.auth } : {}) })
    const status = res.statusCode ?? 0
    const body = await readBody(res, 1024 * 1024)
    if (status === 401 || status === 403) throw new UpstreamError(`${this.label}: its token service ${challenge.origin}${challenge.pathname} answered ${status}: check the username and password (or credentialsfile) of this upstream`, false, status)
    if (status < 200 || status >= 300) throw new UpstreamError(`${this.label}: its token service ${challenge.origin}${challenge.pathname} answered ${status}`, status === 429 || status >= 500, status)
    let doc: { token?: unknown; access_token?: unknown }
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc
    } catch {
      throw new UpstreamError(`${this.label}: its token service answered no JSON`, false)
    }
    const token = typeof doc.token === 'string' ? doc.token : doc.access_token
    if (typeof token !== 'string' || token === '') throw new UpstreamError(`${this.label}: its token service answered no token`, false)
    return token
  }

  private send(url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const options = { method: 'GET', headers, rejectUnauthorized: this.config.tlsVerify, ...(this.ca ? { ca: this.ca } : {}), ...(this.signal ? { signal: this.signal } : {}) }
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
        res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new UpstreamError(`${this.label}: ${url.pathname} sent nothing for ${IDLE_TIMEOUT_MS / 1000}s`, true)))
        resolve(res)
      })
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new UpstreamError(`${this.label}: no answer within ${IDLE_TIMEOUT_MS / 1000}s`, true)))
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (this.signal?.aborted) reject(new UpstreamError(`${this.label}: ${url.pathname} not finished: the registry is closing`, false))
        else reject(err instanceof UpstreamError ? err : new UpstreamError(`cannot reach ${this.label}: ${err.code ?? err.message}`, true))
      })
      req.end()
    })
  }
}

/** Which token a request needs: its repository's, or the catalog's. */
function scopeKey(path: string): string {
  const m = /^\/v[12]\/(.+?)\/(?:tags|manifests|blobs|referrers)\//.exec(path)
  return m ? (m[1] as string) : path.split('?')[0] as string
}

/** The token URL of `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`, or null. */
export function bearerChallenge(header: string | undefined): URL | null {
  if (!header || !/^bearer\s/i.test(header)) return null
  const params = new Map<string, string>()
  for (const m of header.slice(7).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params.set((m[1] as string).toLowerCase(), m[2] as string)
  const realm = params.get('realm')
  if (!realm) return null
  let url: URL
  try {
    url = new URL(realm)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  for (const key of ['service', 'scope']) {
    const value = params.get(key)
    if (value !== undefined) url.searchParams.append(key, value)
  }
  return url
}


/** `Basic ...` from username/password or the credentials file (read now: a rotated file is picked up at the next run). */
function credentials(config: SyncRegistryConfig): string | null {
  let user = config.username
  let password = config.password
  if (config.credentialsFile !== null) {
    let doc: unknown
    try {
      doc = parseYaml(readFileSync(config.credentialsFile, 'utf8'))
    } catch (err) {
      throw new UpstreamError(`cannot read the credentials file ${config.credentialsFile} of ${config.url}: ${(err as NodeJS.ErrnoException).code ?? 'not YAML'}`, false)
    }
    const d = (doc ?? {}) as Record<string, unknown>
    if (typeof d.username !== 'string' || typeof d.password !== 'string') {
      throw new UpstreamError(`the credentials file ${config.credentialsFile} of ${config.url} must hold username and password`, false)
    }
    user = d.username
    password = d.password
  }
  return user === null || password === null ? null : `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

function certificatesIn(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.crt') || n.endsWith('.pem')).sort()
  } catch (err) {
    throw new UpstreamError(`cannot read certdir ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, false)
  }
  return names.map((n) => readFileSync(join(dir, n), 'utf8'))
}

/** The answer's bytes; past `limit`, the `tooLarge` error (by default an upstream error). */
async function readBody(res: IncomingMessage, limit: number, tooLarge?: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res) {
    size += (chunk as Buffer).length
    if (size > limit) {
      res.destroy()
      throw tooLarge?.() ?? new UpstreamError(`an answer of the upstream is larger than ${limit} bytes`, false)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}
