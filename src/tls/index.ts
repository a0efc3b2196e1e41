// The TLS service built from config.http.tls: certificates from files (certificates.ts) or from
// Let's Encrypt (acme.ts, loaded only when configured: acme-client takes 0.4 s to load). Both
// hand Fastify the same kind of HTTPS server (TlsServers, servers.ts), whose certificate is replaced
// for new handshakes with server.setSecureContext (and through SNICallback when the served
// names are restricted), so a renewal or reload never drops an open connection. server.ts
// starts the service once it listens, and wires SIGHUP to reload().

import { X509Certificate } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { ConfigError } from '../config/leaf.js'
import type { TlsConfig } from '../config/load.js'
import { FileCertificates, readSettingFile } from './certificates.js'
import { TlsServers, type TlsService } from './servers.js'
import type { OrderTurns } from './acme.js'

export type { TlsService } from './servers.js'

/** `orderTurns`: how Let's Encrypt orders take turns with other replicas. */
export async function createTlsService(config: TlsConfig, log: FastifyBaseLogger, orderTurns: OrderTurns): Promise<TlsService> {
  const clientCas = config.clientcas.map((path) => {
    const pem = readSettingFile({ setting: 'http.tls.clientcas', path })
    try {
      new X509Certificate(pem)
    } catch {
      throw new ConfigError('http.tls.clientcas', `${path} does not hold a PEM CA certificate`)
    }
    return pem
  })
  const settings = { minVersion: config.minimumtls === 'tls1.3' ? ('TLSv1.3' as const) : ('TLSv1.2' as const), clientCas, log }
  const source = config.certificates
  if (source.kind === 'files') return new FileCertificates(source, new TlsServers({ ...settings, serverNames: null }), log)
  const { LetsEncryptCertificates } = await import('./acme.js')
  return LetsEncryptCertificates.load(source, new TlsServers({ ...settings, serverNames: new Set(source.hosts) }), log, orderTurns)
}
