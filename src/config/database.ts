// database.url: checking a PostgreSQL URL at config load, and showing it (or its host) in
// messages without its password. Kept free of `pg` so loading a config never loads the driver;
// src/meta/postgres-connection.ts turns the checked URL into node-postgres settings.

import { ConfigError } from './leaf.js'

/** The sslmode values Packyard accepts, as libpq names them ('allow' is refused: see checkDatabaseUrl). */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/**
 * URL parameters node-postgres would read on its own (certificate files, its `ssl` switch);
 * Packyard takes TLS from sslmode and database.tls.* only, so one place says what TLS is used.
 */
const REFUSED_PARAMETERS: Record<string, string> = {
  sslrootcert: 'set database.tls.ca instead',
  sslcert: 'set database.tls.cert instead',
  sslkey: 'set database.tls.key instead',
  sslpassword: 'an encrypted database.tls.key is not supported',
  ssl: 'use sslmode (disable, prefer, require, verify-ca, verify-full)',
  uselibpqcompat: 'sslmode already has libpq\'s meaning here',
}

/** A postgres:// URL's parts, as node-postgres reads them; `host` is a directory for a Unix socket. */
export interface DatabaseUrlParts {
  host: string
  port: number | null
  sslmode: SslMode | null
  /** The URL's query string with the TLS parameters taken out (sslmode is applied separately). */
  params: URLSearchParams
}

/**
 * `url` with the password (in the user info, a `password` parameter or libpq's `password=...`
 * keyword form) replaced by `***`. Works on text that is not a valid URL too: everything between
 * `://` (or the start, without a scheme) and the last `@` is user info, so a password holding
 * `/` or `@` is hidden whole (at worst part of the host is hidden with it).
 */
export function redactDatabaseUrl(url: string): string {
  let out = url
  const scheme = out.indexOf('://')
  const start = scheme < 0 ? 0 : scheme + 3
  const at = out.lastIndexOf('@')
  if (at > start) {
    const userinfo = out.slice(start, at)
    const colon = userinfo.indexOf(':')
    if (colon >= 0) out = `${out.slice(0, start)}${userinfo.slice(0, colon)}:***${out.slice(at)}`
  }
  // Any parameter whose name ends in "password" (sslpassword too: \b does not match inside it).
  return out.replace(/((?:^|[?&\s])[a-z_]*password\s*=\s*)('[^']*'|[^\s&#]*)/gi, '$1***')
}

/** The URL parsed; the query string split off first, because WHATWG URL refuses `user:pass@/db` (no host, socket in ?host=). */
function parseUrl(url: string): { host: string; port: string; query: URLSearchParams } | null {
  const q = url.search(/[?#]/)
  const base = q < 0 ? url : url.slice(0, q)
  const query = new URLSearchParams(q < 0 || url[q] === '#' ? '' : url.slice(q + 1).split('#')[0])
  const hostless = /@\/|@$/.test(base)
  try {
    const parsed = new URL(hostless ? base.replace(/@(\/|$)/, '@placeholder$1') : base)
    return { host: hostless ? '' : parsed.hostname.replace(/^\[(.+)\]$/, '$1'), port: parsed.port, query }
  } catch {
    return null
  }
}

/**
 * The parts of database.url, or a ConfigError naming the key and what is wrong; the URL appears
 * in messages with its password as `***`.
 */
export function checkDatabaseUrl(url: string, key = 'database.url'): DatabaseUrlParts {
  const shown = JSON.stringify(redactDatabaseUrl(url))
  const form = 'postgres://USER:PASSWORD@HOST:PORT/DATABASE, or postgres://USER@/DATABASE?host=/run/postgresql for a Unix socket'
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]
  if (scheme === undefined) throw new ConfigError(key, `must be a URL such as ${form} (got ${shown})`)
  if (!['postgres', 'postgresql'].includes(scheme.toLowerCase())) {
    throw new ConfigError(key, `must be a postgres:// or postgresql:// URL, not ${scheme}:// (got ${shown}); leave it empty for SQLite at database.path`)
  }
  const parsed = parseUrl(url)
  if (parsed === null) throw new ConfigError(key, `is not a valid URL (got ${shown}; a password with : / @ ? # must be percent-encoded)`)
  const { query } = parsed
  const host = query.get('host') ?? parsed.host
  if (host === '') throw new ConfigError(key, `names no host (got ${shown}); write ${form}`)
  const portText = query.get('port') ?? parsed.port
  let port: number | null = null
  if (portText !== '') {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
    if (!(port >= 1 && port <= 65535)) throw new ConfigError(key, `port ${JSON.stringify(portText)} is not a port number (got ${shown})`)
  }
  for (const name of query.keys()) {
    const hint = REFUSED_PARAMETERS[name.toLowerCase()]
    if (hint !== undefined) throw new ConfigError(key, `the ${name} parameter is not supported: ${hint} (got ${shown})`)
  }
  const mode = query.get('sslmode')
  if (mode !== null && !(SSL_MODES as readonly string[]).includes(mode)) {
    const why = mode === 'allow' ? ' (node-postgres cannot fall back from plain to TLS; use disable or require)' : ''
    throw new ConfigError(key, `sslmode=${mode} is not one of ${SSL_MODES.join(', ')}${why} (got ${shown})`)
  }
  const negotiation = query.get('sslnegotiation')
  if (negotiation !== null && !(negotiation === 'postgres' || (negotiation === 'direct' && ['require', 'verify-ca', 'verify-full'].includes(mode ?? '')))) {
    throw new ConfigError(key, `sslnegotiation=${negotiation} needs to be postgres, or direct with sslmode=require, verify-ca or verify-full, as in libpq (got ${shown})`)
  }
  const params = new URLSearchParams(query)
  params.delete('sslmode')
  return { host, port, sslmode: mode as SslMode | null, params }
}

/** Where the database is, for messages: `host:port` (5432 when unnamed), `[::1]:5432`, or a Unix socket's directory. */
export function databaseHost(url: string): string {
  const parsed = parseUrl(url)
  if (parsed === null) return '(an unparsable database.url)'
  const host = parsed.query.get('host') ?? parsed.host
  if (host.startsWith('/')) return host
  const port = parsed.query.get('port') || parsed.port || '5432'
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}
