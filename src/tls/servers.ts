// The HTTPS server Fastify is given when TLS is on, and the certificate it serves: the one
// shape both certificate sources (files: certificates.ts, Let's Encrypt: acme.ts) hand to
// index.ts. A new certificate replaces the old for new handshakes (server.setSecureContext, and
// through SNICallback when the served names are restricted); open connections keep theirs.
// Plain HTTP sent to the TLS port is answered 400 in plain HTTP, as distribution does.

import type { X509Certificate } from 'node:crypto'
import type { RequestListener } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import tls from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'

export interface CertificatePair {
  /** The PEM chain as served: leaf first, then intermediates. */
  cert: Buffer
  key: Buffer
  leaf: X509Certificate
  notAfter: Date
}

export interface TlsService {
  /** Fastify's serverFactory: the HTTPS server, serving the current certificate. */
  readonly serverFactory: (handler: RequestListener, options: Record<string, unknown>) => https.Server
  /** For http.tls.letsencrypt.httpaddr: answers HTTP-01 challenges and redirects the rest to HTTPS. */
  readonly httpHandler: RequestListener | null
  /** Called once the listeners are up: keeps the certificate current (Let's Encrypt: obtains the first one if needed, waiting for it). */
  start(): Promise<void>
  /** SIGHUP: re-read the certificate files, or retry a due ACME renewal now. */
  reload(): Promise<void>
  close(): void
}

export interface TlsSettings {
  minVersion: tls.SecureVersion
  /** Client certificates must be signed by one of these (mutual TLS); empty: none asked for. */
  clientCas: Buffer[]
  /** When set, handshakes for any other SNI name are refused. */
  serverNames: Set<string> | null
  log: FastifyBaseLogger
}

/** What Go's net/http, hence distribution, answers an HTTP request sent to its TLS port. */
export const HTTP_TO_HTTPS_ANSWER = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n'

/**
 * OpenSSL has seen a plain HTTP request line where a TLS handshake should be; the TLS socket is
 * done, but the connection under it (Node's `_parent`) can still carry a plain answer.
 */
function answerPlainHttp(socket: tls.TLSSocket): void {
  const raw = (socket as tls.TLSSocket & { _parent?: Socket | null })._parent
  if (raw && !raw.destroyed) raw.end(HTTP_TO_HTTPS_ANSWER)
}

/** The HTTPS servers made for Fastify (one in practice) and the certificate they serve. */
export class TlsServers {
  /** The certificate being served, or null before the first one. */
  current: CertificatePair | null = null
  private readonly servers: https.Server[] = []
  private options: tls.SecureContextOptions | null = null
  private context: tls.SecureContext | null = null

  constructor(private readonly settings: TlsSettings) {}

  readonly serverFactory = (handler: RequestListener, fastifyOptions: Record<string, unknown>): https.Server => {
    const { clientCas, serverNames } = this.settings
    const server = https.createServer(
      {
        minVersion: this.settings.minVersion,
        ...(clientCas.length > 0 ? { ca: clientCas, requestCert: true, rejectUnauthorized: true } : {}),
        ...(serverNames ? { SNICallback: (name: string, done: (err: Error | null, ctx?: tls.SecureContext) => void) => this.selectContext(name, done) } : {}),
        ...this.options,
      },
      handler,
    )
    // What Fastify does to the servers it makes itself.
    server.keepAliveTimeout = fastifyOptions.keepAliveTimeout as number
    server.requestTimeout = fastifyOptions.requestTimeout as number
    server.setTimeout(fastifyOptions.connectionTimeout as number)
    if ((fastifyOptions.maxRequestsPerSocket as number) > 0) server.maxRequestsPerSocket = fastifyOptions.maxRequestsPerSocket as number
    // Refused handshakes (a name outside `hosts`, a client certificate not signed by clientcas,
    // scanners) are routine: debug level. Plain HTTP sent here gets distribution's (Go's) answer.
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      this.settings.log.debug({ error: err.message, ip: socket.remoteAddress }, 'TLS handshake refused')
      if (err.code === 'ERR_SSL_HTTP_REQUEST') answerPlainHttp(socket)
    })
    this.servers.push(server)
    return server
  }

  /** New handshakes get `pair`; connections already open keep the certificate they began with. */
  serve(pair: CertificatePair): void {
    const { clientCas, minVersion } = this.settings
    // Every option of the context, since setSecureContext starts from scratch (the client CAs too).
    this.options = { cert: pair.cert, key: pair.key, minVersion, ...(clientCas.length > 0 ? { ca: clientCas } : {}) }
    this.context = tls.createSecureContext(this.options)
    this.current = pair
    for (const server of this.servers) server.setSecureContext(this.options)
  }

  private selectContext(name: string, done: (err: Error | null, ctx?: tls.SecureContext) => void): void {
    if (!this.settings.serverNames?.has(name.toLowerCase())) return done(new Error(`no certificate for ${name}`))
    if (!this.context) return done(new Error('no certificate yet'))
    done(null, this.context)
  }
}
