// The client's side of the /v1 API: one RegistryClient per server login. It picks the
// transport, sends Basic credentials, turns error envelopes into CliErrors carrying the
// server's own message, turns network failures into messages that name the server and say what
// to check, and streams multipart uploads with a progress bar.
//
// Transport:
//   - a normal login is HTTPS only, trusting what Go clients trust (the system store) plus
//     Node's roots and the registry's certs.d folders (see trust.ts);
//   - an `insecure` login means "plain HTTP, or HTTPS with a certificate nobody vouches for".
//     The client first tries a bare TLS handshake without verification; if the server answers
//     it, HTTPS is used, and if the server turns out not to speak TLS at all, plain HTTP is.
//     HTTPS first, because the other order would send the password in clear text to a server
//     that could have protected it; and the probe is a handshake only, so no request (and no
//     credentials) is ever sent twice.
//   - a login that names its scheme (`registry login http://HOST:PORT`) uses that one, untried.

import { randomBytes, createHash } from 'node:crypto'
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { VERSION } from '../version.js'
import { CliError, type Io, UsageError } from './command.js'
import { parseServer, readClientConfig, resolveHome, selectEntry, type ServerEntry } from './client-config.js'
import { startProgress } from './progress.js'
import { SYSTEM_CERTS_DIR, trustedCertificates } from './trust.js'
import { followedLink } from '../pages.js'

/** How long a silent connection may stay open (no bytes either way) before giving up. */
const IDLE_TIMEOUT_MS = 120_000
const PROBE_TIMEOUT_MS = 10_000
const MAX_ERROR_BODY = 64 * 1024

/** A refusal from the registry: its status, error code, the server's own words, and the full message. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    readonly detail: Record<string, unknown> | undefined,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface Login {
  server: string
  insecure: boolean
  /** base64 user:password */
  auth: string
  user: string
  /** The scheme the user named (`http://HOST:PORT`), used as it is; otherwise chosen as above. */
  scheme?: 'http' | 'https' | null
}

export interface ClientOptions {
  home: string
  io: Io
  /** Folders holding `<server>/*.crt`; defaults to /etc/spectro/certs.d and <home>/certs.d. */
  certDirs?: string[]
}

interface Transport {
  scheme: 'http' | 'https'
  tls: { rejectUnauthorized: boolean; ca?: string[] }
}

export interface UploadFile {
  field: string
  filename: string
  contentType: string
  size: number
  /** sha256:<hex> the bytes must have; the upload is abandoned if they do not. */
  digest: string
  open: () => Readable
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** The handshake failed because the other side does not speak TLS at all. */
function isNotTls(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPROTO' || (err.code ?? '').startsWith('ERR_SSL_') || /wrong version number|packet length too long|unknown protocol/i.test(err.message)
}

/** Nothing is verified, so no CA list is loaded (parsing Node's own takes tens of milliseconds). */
const UNVERIFIED = { rejectUnauthorized: false, ca: [] }

/** More pages than any registry holds: past this, a listing is refused as endless. */
const MAX_PAGES = 100_000

export class RegistryClient {
  readonly server: string
  readonly user: string
  private readonly host: string
  private readonly port: number | null
  private transport: Promise<Transport> | undefined
  private certificateChecked = false

  constructor(
    private readonly login: Login,
    private readonly options: ClientOptions,
  ) {
    const parsed = parseServer(login.server)
    this.server = parsed.server
    this.host = parsed.host
    this.port = parsed.port
    this.user = login.user
  }

  static fromEntry(entry: ServerEntry, options: ClientOptions): RegistryClient {
    return new RegistryClient({ server: entry.server, insecure: entry.insecure, auth: entry.auth, user: entry.user }, options)
  }

  /** `GET`/`PUT`/`DELETE`/... with an optional JSON body; resolves the parsed JSON answer. */
  async json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; headers: IncomingMessage['headers']; body: T }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const headers: OutgoingHttpHeaders = { accept: 'application/json' }
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = payload.length
    }
    const res = await this.send(method, path, headers, payload)
    return { status: res.statusCode ?? 0, headers: res.headers, body: (await this.readJson(res)) as T }
  }

  /**
   * Every item under `key` of every page of a paged listing, following the Link headers from
   * `path`. A registry that sends a page twice (or endless pages) is refused, not followed.
   */
  async allPages<T>(path: string, key: string): Promise<T[]> {
    const items: T[] = []
    const seen = new Set<string>()
    for (let next: string | null = path; next !== null; ) {
      if (seen.has(next) || seen.size >= MAX_PAGES) throw new CliError(`${this.server} keeps sending the same next page (${next})`)
      seen.add(next)
      const res: { headers: IncomingMessage['headers']; body: Record<string, T[] | undefined> } = await this.json('GET', next)
      items.push(...(res.body[key] ?? []))
      next = followedLink(res.headers.link)
    }
    return items
  }

  /** A successful GET whose body the caller streams (archives). */
  async download(path: string): Promise<IncomingMessage> {
    return this.send('GET', path, {}, undefined)
  }

  /**
   * POSTs multipart/form-data: the text `fields` first (the server reads them before the file),
   * then the file, streamed. The last boundary is only sent once the bytes read match
   * `file.digest`, so a file that changes mid-upload gives the server a truncated body, never
   * a wrong archive.
   */
  async upload<T>(path: string, fields: Array<[string, string]>, file: UploadFile): Promise<{ status: number; body: T }> {
    const boundary = `----packyard-${randomBytes(16).toString('hex')}`
    let preamble = ''
    for (const [name, value] of fields) {
      preamble += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
    }
    preamble += `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename.replace(/["\r\n\\]/g, '_')}"\r\nContent-Type: ${file.contentType}\r\n\r\n`
    const head = Buffer.from(preamble, 'utf8')
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8')
    const progress = startProgress(this.options.io, `Pushing ${file.filename}`, file.size)
    let changed: CliError | undefined
    const body = Readable.from(
      (async function* () {
        yield head
        const hash = createHash('sha256')
        let sent = 0
        for await (const chunk of file.open()) {
          hash.update(chunk as Buffer)
          sent += (chunk as Buffer).length
          progress.update(sent)
          yield chunk as Buffer
        }
        const digest = `sha256:${hash.digest('hex')}`
        if (digest !== file.digest || sent !== file.size) {
          changed = new CliError(`${file.filename} changed while it was being uploaded; push again`)
          throw changed
        }
        yield tail
      })(),
      { objectMode: false },
    )
    const headers: OutgoingHttpHeaders = {
      accept: 'application/json',
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': head.length + file.size + tail.length,
    }
    try {
      const res = await this.send('POST', path, headers, body)
      return { status: res.statusCode ?? 0, body: (await this.readJson(res)) as T }
    } catch (err) {
      // Whatever the server made of the truncated body, the cause is on this side.
      throw changed ?? err
    } finally {
      progress.done()
      // The server may have answered (401, 413, ...) before reading it all: stop reading files.
      body.destroy()
    }
  }

  /** Resolves once the response headers arrive; non-2xx answers become ApiErrors. */
  private async send(method: string, path: string, headers: OutgoingHttpHeaders, body: Buffer | Readable | undefined): Promise<IncomingMessage> {
    const transport = await this.resolveTransport()
    const url = this.url(transport.scheme, path)
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = transport.scheme === 'https' ? httpsRequest : httpRequest
      const req = request(url, {
        method,
        headers: { ...headers, authorization: `Basic ${this.login.auth}`, 'user-agent': `packyard/${VERSION}` },
        ...(transport.scheme === 'https' ? transport.tls : {}),
        timeout: IDLE_TIMEOUT_MS,
      })
      let answered = false
      req.on('response', (r) => {
        answered = true
        if (transport.scheme === 'https') this.checkCertificateNames(r.socket as TLSSocket)
        resolve(r)
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })))
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A server may answer (e.g. 401, 413) before it has read the whole upload and close the
        // connection; the answer is what matters then, not the broken pipe that follows.
        if (!answered) reject(err instanceof CliError ? err : this.networkError(err, url))
      })
      if (body === undefined) {
        req.end()
      } else if (Buffer.isBuffer(body)) {
        req.end(body)
      } else {
        body.on('error', (err) => req.destroy(err))
        body.pipe(req)
      }
    })
    const status = res.statusCode ?? 0
    if (status >= 200 && status < 300) return res
    throw await this.apiError(res, method, path)
  }

  private url(scheme: 'http' | 'https', path: string): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host
    return `${scheme}://${host}${this.port === null ? '' : `:${this.port}`}${path}`
  }

  private resolveTransport(): Promise<Transport> {
    this.transport ??= this.chooseTransport()
    return this.transport
  }

  private chooseTransport(): Promise<Transport> {
    const { scheme, insecure } = this.login
    if (scheme === 'http') return Promise.resolve({ scheme: 'http', tls: UNVERIFIED })
    if (!insecure) return Promise.resolve({ scheme: 'https', tls: this.trustedTls() })
    return scheme === 'https' ? Promise.resolve({ scheme: 'https', tls: UNVERIFIED }) : this.probe()
  }

  private certDirs(): string[] {
    return this.options.certDirs ?? [SYSTEM_CERTS_DIR, join(this.options.home, 'certs.d')]
  }

  private trustedTls(): Transport['tls'] {
    return { rejectUnauthorized: true, ca: trustedCertificates(this.server, this.certDirs(), this.options.io.env) }
  }

  /**
   * Go (since 1.15) ignores a certificate's Common Name: one that names its host only there is
   * refused by Palette and the spectro CLI, even where Node, hence this CLI, accepts it. Say so
   * once, while the registry is still easy to fix.
   */
  private checkCertificateNames(socket: TLSSocket): void {
    if (this.certificateChecked) return
    this.certificateChecked = true
    const certificate = socket.getPeerCertificate()
    if (Object.keys(certificate).length === 0 || certificate.subjectaltname) return
    this.options.io.stderr.write(
      `Warning: the TLS certificate of ${this.server} has no subjectAltName and names its host only in the legacy Common Name ` +
        `(CN=${certificate.subject?.CN ?? ''}); Palette and other Go clients will reject it ("x509: certificate relies on legacy Common Name field"). ` +
        `Issue it again with a subjectAltName, e.g. openssl req ... -addext "subjectAltName=${isIP(this.host) ? 'IP' : 'DNS'}:${this.host}"\n`,
    )
  }

  /** For insecure logins: HTTPS (unverified) if the server completes a TLS handshake, else HTTP. */
  private probe(): Promise<Transport> {
    const insecureTls = { scheme: 'https' as const, tls: UNVERIFIED }
    const plain = { scheme: 'http' as const, tls: UNVERIFIED }
    return new Promise<Transport>((resolve, reject) => {
      const socket = tlsConnect({ host: this.host, port: this.port ?? 443, ...UNVERIFIED, ...(isIP(this.host) ? {} : { servername: this.host }) })
      socket.setTimeout(PROBE_TIMEOUT_MS, () => {
        // Some plain-HTTP servers just wait for a request that makes sense; try them as such.
        socket.destroy()
        resolve(plain)
      })
      socket.once('secureConnect', () => {
        socket.destroy()
        resolve(insecureTls)
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (isNotTls(err) || err.code === 'ECONNRESET') resolve(plain)
        // No scheme is chosen yet: the message must not claim one (a plain-HTTP registry that is down looks the same).
        else reject(this.networkError(err, null))
      })
    })
  }

  private async readJson(res: IncomingMessage): Promise<unknown> {
    const text = await readBody(res, Number.POSITIVE_INFINITY)
    if (text === '') return {}
    try {
      return JSON.parse(text)
    } catch {
      throw new CliError(`${this.server} sent an answer that is not JSON (status ${res.statusCode}); is it a packyard registry?`)
    }
  }

  private async apiError(res: IncomingMessage, method: string, path: string): Promise<CliError> {
    const status = res.statusCode ?? 0
    if (status >= 300 && status < 400) {
      return new CliError(`${this.server} redirects ${method} ${path} to ${res.headers.location ?? '(nowhere)'}; use the registry's own address`)
    }
    let text = ''
    try {
      text = await readBody(res, MAX_ERROR_BODY)
    } catch {
      // The status alone still says what happened.
    }
    let code = ''
    let message = ''
    let detail: Record<string, unknown> | undefined
    try {
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown; detail?: unknown }> }
      const first = parsed.errors?.[0]
      if (first && typeof first.message === 'string') {
        code = typeof first.code === 'string' ? first.code : ''
        message = first.message
        if (typeof first.detail === 'object' && first.detail !== null) detail = first.detail as Record<string, unknown>
      }
    } catch {
      // Not an error envelope: a proxy or another kind of server answered.
    }
    if (message === '') {
      const snippet = text.trim().split('\n')[0]?.slice(0, 200) ?? ''
      message = `${this.server} answered ${status} ${res.statusMessage ?? ''}`.trimEnd() + (snippet ? `: ${snippet}` : '') + (status === 404 ? ' (is this a packyard registry?)' : '')
    }
    const reason = message
    if (status === 401) {
      message = `${this.server} refused the credentials of user ${JSON.stringify(this.user)}: ${reason}; log in again with: packyard registry login ${this.server}`
    } else if (status === 429) {
      const retry = res.headers['retry-after']
      if (retry) message += ` (retry after ${retry} seconds)`
    }
    return new ApiError(message, status, code || `HTTP_${status}`, reason, detail)
  }

  /** `url`: what was asked for; null while an --insecure login is still finding out which scheme the registry speaks. */
  private networkError(err: NodeJS.ErrnoException, url: string | null): CliError {
    const code = err.code ?? ''
    const where = url === null ? `${this.server} (plain HTTP or HTTPS: an --insecure login uses whichever the registry speaks)` : `${this.server} (${url.replace(/\/v1\/.*$/, '/v1/')})`
    if (code === 'ECONNREFUSED') return new CliError(`cannot connect to ${where}: connection refused; check the host and port, and that the registry is running`)
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new CliError(`cannot resolve the host of ${this.server}: ${err.message}; check the server name`)
    if (code === 'ETIMEDOUT') return new CliError(`${where} did not answer in time; check the host, the port and any firewall in between`)
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new CliError(`the TLS certificate of ${this.server} is not valid for this address (${err.message}); use the name the certificate was issued for, or log in with --insecure`)
    }
    if (TLS_TRUST_CODES.has(code)) {
      const [system, home] = [SYSTEM_CERTS_DIR, join(this.options.home, 'certs.d')].map((dir) => join(dir, this.server, 'ca.crt'))
      return new CliError(
        `the TLS certificate of ${this.server} is not trusted (${withoutNodeAdvice(err.message)}); add the registry's CA certificate to the system's store (update-ca-certificates, or SSL_CERT_FILE), or put it in ${system} or ${home} (any .crt file name), or log in with --insecure`,
      )
    }
    if (isNotTls(err)) {
      return new CliError(`${this.server} does not speak HTTPS on this port (the TLS handshake got a non-TLS answer); if it serves plain HTTP, log in with: packyard registry login ${this.server} --insecure`)
    }
    if (code === 'ECONNRESET' || code === 'EPIPE') {
      return new CliError(`${where} closed the connection; check the port, and TLS: a plain-HTTP registry needs a login with --insecure`)
    }
    return new CliError(`cannot reach ${where}: ${err.message}`)
  }
}

/**
 * The registry a command names, as a positional SERVER or -r/--registry-server (or neither:
 * the default registry); naming two different ones is a usage mistake.
 */
export function chosenServer(positional: string | undefined, flag: string | undefined): string | undefined {
  if (positional !== undefined && flag !== undefined && parseServer(positional).server !== parseServer(flag).server) {
    throw new UsageError(`two different registries given: ${positional} and --registry-server ${flag}`)
  }
  return positional ?? flag
}

/** The client for `-r SERVER` (or the default registry) from the login store in `-s HOME`. */
export async function connect(flags: { home?: string | undefined; server?: string | undefined }, io: Io): Promise<RegistryClient> {
  const home = resolveHome(flags.home, io.env)
  const config = await readClientConfig(home)
  return RegistryClient.fromEntry(selectEntry(config, flags.server), { home, io })
}

async function readBody(res: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res) {
    size += (chunk as Buffer).length
    if (size <= limit) chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Node 24 appends "; if the root CA is installed locally, try running Node.js with
 * --use-system-ca" to certificate errors. The CLI reads the system's store itself and gives
 * its own advice, so that hint would only mislead.
 */
function withoutNodeAdvice(message: string): string {
  return message.replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca$/, '')
}
