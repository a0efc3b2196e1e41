// Certificates from PEM files (http.tls.certificate and http.tls.key): read and checked so that
// a broken or mismatched pair is refused naming the setting (never a bare OpenSSL code), then
// kept current without a restart. certbot, cert-manager or a person replace the files; they are
// re-read every 10 seconds and on SIGHUP, a good new pair is served from the next handshake on
// (open connections keep the one they started with), and a broken or expired one is refused
// with one log line while the previous pair stays in service.

import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import tls from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import { ConfigError } from '../config/leaf.js'
import type { CertificateFiles } from '../config/load.js'
import type { CertificatePair, TlsServers, TlsService } from './servers.js'

/** Where a PEM came from, for error messages: the setting and the file it names. */
export interface PemSource {
  setting: string
  path: string
}

/** How often the files are compared with what is served. */
const POLL_INTERVAL_MS = 10_000

/** Reads a file named by a setting; a failure names the setting and the error code. */
export function readSettingFile(source: PemSource): Buffer {
  try {
    return readFileSync(source.path)
  } catch (err) {
    throw new ConfigError(source.setting, `cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
}

/** Parses a certificate chain and its private key and checks that they belong together. */
export function checkPair(cert: Buffer, key: Buffer, from: { certificate: PemSource; key: PemSource }): CertificatePair {
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
  } catch {
    throw new ConfigError(from.certificate.setting, `${from.certificate.path} does not hold a PEM certificate`)
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(key)
  } catch {
    throw new ConfigError(from.key.setting, `${from.key.path} does not hold an unencrypted PEM private key`)
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      from.key.setting,
      `the private key in ${from.key.path} does not match the certificate in ${from.certificate.setting} (${from.certificate.path}, issued to ${describeSubject(leaf)})`,
    )
  }
  try {
    // What OpenSSL itself refuses to serve (a key too small for its security level, ...).
    tls.createSecureContext({ cert, key })
  } catch (err) {
    throw new ConfigError(from.certificate.setting, `${from.certificate.path} cannot be served: ${(err as Error).message}`)
  }
  return { cert, key, leaf, notAfter: new Date(leaf.validTo) }
}

/** The names a certificate is for, for log lines: its DNS and IP subjectAltNames, or its subject. */
export function describeSubject(leaf: X509Certificate): string {
  return leaf.subjectAltName ?? leaf.subject.replace(/\n/g, ', ')
}

/** What a log line says about a certificate being served. */
export function certificateFields(pair: CertificatePair): Record<string, string> {
  return { names: describeSubject(pair.leaf), notAfter: pair.notAfter.toISOString(), sha256: pair.leaf.fingerprint256 }
}

/**
 * Go (since 1.15), hence Palette and the spectro CLI, ignores the Common Name: a certificate
 * naming the registry only there is refused by them, though Node clients (packyard's CLI, which
 * warns too) accept it. Served all the same, with the fix in the log.
 */
function warnIfCommonNameOnly(pair: CertificatePair, log: FastifyBaseLogger): void {
  if (pair.leaf.subjectAltName) return
  log.warn(
    certificateFields(pair),
    'the certificate in http.tls.certificate has no subjectAltName (only the Common Name): Palette and other Go clients will refuse it; issue it again with one, e.g. openssl req ... -addext "subjectAltName=DNS:<host>"',
  )
}

export class FileCertificates implements TlsService {
  readonly httpHandler = null
  private readonly sources: { certificate: PemSource; key: PemSource }
  /** Digests of the file contents being served, and of those last looked at (served or refused). */
  private served: string
  private seen: string
  private timer: NodeJS.Timeout | null = null
  private reloading: Promise<void> | null = null

  constructor(
    files: CertificateFiles,
    private readonly servers: TlsServers,
    private readonly log: FastifyBaseLogger,
  ) {
    this.sources = {
      certificate: { setting: 'http.tls.certificate', path: files.certificate },
      key: { setting: 'http.tls.key', path: files.key },
    }
    const cert = readSettingFile(this.sources.certificate)
    const key = readSettingFile(this.sources.key)
    const pair = checkPair(cert, key, this.sources)
    if (pair.notAfter.getTime() < Date.now()) {
      log.warn({ ...certificateFields(pair), certificate: files.certificate }, 'the certificate in http.tls.certificate has expired; clients will refuse it')
    }
    warnIfCommonNameOnly(pair, log)
    this.served = this.seen = digest(cert, key)
    servers.serve(pair)
  }

  get serverFactory() {
    return this.servers.serverFactory
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.reload('poll'), POLL_INTERVAL_MS)
    this.timer.unref()
  }

  /** Re-reads the files; `reason` 'SIGHUP' also logs when nothing changed. */
  reload(reason: 'SIGHUP' | 'poll' = 'SIGHUP'): Promise<void> {
    this.reloading ??= this.reloadNow(reason).finally(() => {
      this.reloading = null
    })
    return this.reloading
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private async reloadNow(reason: string): Promise<void> {
    let cert: Buffer
    let key: Buffer
    try {
      ;[cert, key] = await Promise.all([readFile(this.sources.certificate.path), readFile(this.sources.key.path)])
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err)
      const state = `unreadable:${code}`
      if (state !== this.seen || reason === 'SIGHUP') {
        this.log.warn({ reason, error: code }, 'cannot read the certificate files (http.tls.certificate, http.tls.key); still serving the previous certificate')
      }
      this.seen = state
      return
    }
    const now = digest(cert, key)
    if (now === this.served) {
      if (reason === 'SIGHUP') this.log.info({ reason }, 'certificate files unchanged')
      this.seen = now
      return
    }
    // The poll reports a refused pair once; SIGHUP asks again.
    if (now === this.seen && reason === 'poll') return
    this.seen = now
    let pair: CertificatePair
    try {
      pair = checkPair(cert, key, this.sources)
      if (pair.notAfter.getTime() < Date.now()) {
        throw new ConfigError(this.sources.certificate.setting, `the certificate in ${this.sources.certificate.path} expired on ${pair.notAfter.toISOString()}`)
      }
      this.servers.serve(pair)
      this.served = now
    } catch (err) {
      this.log.warn({ reason, error: (err as Error).message }, 'refused the new certificate files; still serving the previous certificate')
      return
    }
    this.log.info({ reason, ...certificateFields(pair) }, 'certificate reloaded from http.tls.certificate and http.tls.key')
    warnIfCommonNameOnly(pair, this.log)
  }
}

function digest(cert: Buffer, key: Buffer): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex')
}
