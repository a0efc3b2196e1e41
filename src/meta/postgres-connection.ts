// The node-postgres pool settings for database.url: the URL's own parameters (user, password,
// host or Unix socket, port, database, application_name...) as pg-connection-string reads them,
// the pool size and connection wait, and TLS from sslmode plus database.tls.* in libpq's
// meaning. One merged config, without `connectionString`: pg lets a connection string's parsed
// ssl settings override a separately passed `ssl`, and reads sslmode with its own (non-libpq)
// meaning. Only pg's types are imported here; loading this module does not load the driver.

import { readFileSync } from 'node:fs'
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { PoolConfig } from 'pg'
import { parse, toClientConfig } from 'pg-connection-string'
import { checkDatabaseUrl, type SslMode } from '../config/database.js'
import { ConfigError } from '../config/leaf.js'
import type { Config } from '../config/load.js'

export { databaseHost, redactDatabaseUrl } from '../config/database.js'

export type PostgresDatabase = Extract<Config['database'], { kind: 'postgres' }>

/**
 * The server drops the session of a replica whose machine died (no FIN, no RST) within about
 * 30 s, not the operating system's two hours, and with it the advisory locks of its one-at-a-time
 * work (Database.exclusively): TCP keepalives every 5 s after 10 s idle, 3 missed, and unacknowledged
 * data given up after 30 s. Ignored over a Unix socket, where a dead peer cannot happen.
 */
const SERVER_KEEPALIVES = '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c tcp_user_timeout=30000'

/** The pool config for `db`; reads the database.tls.* files now, a ConfigError naming the key when one cannot be read. */
export function postgresPoolSettings(db: PostgresDatabase): PoolConfig {
  const { host, sslmode, params } = checkDatabaseUrl(db.url)
  // The URL without its TLS parameters: pg-connection-string would otherwise set `ssl` itself
  // (and warn about sslmode meanings this module does not use).
  const query = params.toString()
  const base = db.url.replace(/[?#].*$/s, '')
  const connection = toClientConfig(parse(query === '' ? base : `${base}?${query}`))
  return {
    ...connection,
    options: [connection.options, SERVER_KEEPALIVES].filter(Boolean).join(' '),
    // This side notices a server that is gone the same way.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    max: db.pool,
    connectionTimeoutMillis: db.connectTimeoutMs,
    // libpq never uses TLS over a Unix socket, whatever sslmode says; the server answers "no" to it.
    ssl: host.startsWith('/') ? false : tlsOptions(sslmode, db.tls),
  }
}

/**
 * libpq's sslmode as far as node-postgres can follow it. pg cannot fall back between plain and
 * TLS, so `prefer` is TLS without falling back (as pg's own libpq-compatible mode does); no
 * sslmode is plain, as in pg. `require` and `prefer` check the certificate only when a CA is
 * given (then as verify-ca, as libpq does with a root certificate); verify-ca checks the chain,
 * not the name; verify-full both.
 */
function tlsOptions(sslmode: SslMode | null, tls: PostgresDatabase['tls']): false | TlsOptions {
  if (sslmode === null || sslmode === 'disable') return false
  const options: TlsOptions = {}
  if (tls.ca !== null) options.ca = readPem('database.tls.ca', tls.ca)
  if (tls.cert !== null && tls.key !== null) {
    options.cert = readPem('database.tls.cert', tls.cert)
    options.key = readPem('database.tls.key', tls.key)
  }
  const verifyChain = sslmode === 'verify-ca' || sslmode === 'verify-full' || tls.ca !== null
  if (!verifyChain) return { ...options, rejectUnauthorized: false }
  if (sslmode !== 'verify-full') options.checkServerIdentity = () => undefined
  return options
}

function readPem(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}
