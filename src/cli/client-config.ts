// The client's login store: `<home>/config.json` in exactly the format of Spectro's `spectro`
// CLI, so either CLI can use the other's logins and a config.json written by hand (as Spectro's
// publishing scripts do) just works:
//
//   {"auths": {"<host:port>": {"auth": "<base64 of user:password>", "insecure": true}},
//    "defaultRegistry": "<host:port>"}
//
// Keys the client does not know (at the top level or inside an entry) are kept as they were,
// because another tool may have put them there. Writes are atomic and the file is mode 0600:
// it holds passwords.

import { mkdir, readFile, realpath } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { CliError, UsageError } from './command.js'
import { writeFileAtomic } from '../files.js'
import { isJsonObject, type JsonObject as Json } from '../json.js'

export const CONFIG_FILE = 'config.json'

/** `-r/--registry-server`, accepted by every command that talks to a registry. */
export const registryOption = { 'registry-server': { type: 'string', short: 'r' } } as const

export interface ServerEntry {
  /** `host:port` as stored in the config. */
  server: string
  user: string
  password: string
  /** The stored base64 `user:password`, sent as is in the Authorization header. */
  auth: string
  insecure: boolean
}


export interface ClientConfig {
  /** The home folder, as given (not resolved). */
  home: string
  path: string
  /** The whole parsed file, unknown keys included; `auths` is always an object. */
  doc: Json & { auths: Record<string, Json> }
}

/** `-s/--home`, or `$HOME/.spectro` like the spectro CLI. */
export function resolveHome(home: string | undefined, env: NodeJS.ProcessEnv): string {
  if (home !== undefined) {
    if (home === '') throw new UsageError('--home must not be empty')
    return home
  }
  return join(env.HOME || homedir(), '.spectro')
}

/**
 * A server as the config keys it: `host:port`, without an `http://`/`https://` prefix or
 * trailing slashes, host in lower case. `scheme` says which prefix was given, if any.
 */
export function parseServer(raw: string): { server: string; host: string; port: number | null; scheme: 'http' | 'https' | null } {
  const prefix = /^(https?):\/\//i.exec(raw)
  const scheme = prefix?.[1] ? (prefix[1].toLowerCase() as 'http' | 'https') : null
  const rest = (prefix ? raw.slice(prefix[0].length) : raw).replace(/\/+$/, '')
  const bad = (why: string) => new UsageError(`invalid server ${JSON.stringify(raw)}: ${why}; expected host:port, e.g. registry.example.com:5000`)
  if (rest === '') throw bad('no host')
  if (rest.includes('/')) throw bad('a server is host:port, without a path')
  // [v6 address] or host, then an optional :port.
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]@\s]+)(?::(\d{1,5}))?$/.exec(rest)
  if (m?.[1] === undefined) throw bad('not a host with an optional :port')
  const port = m[2] === undefined ? null : Number(m[2])
  if (port !== null && (port < 1 || port > 65535)) throw bad(`port ${m[2]} is out of range`)
  const host = m[1].toLowerCase()
  return { server: port === null ? host : `${host}:${port}`, host: host.replace(/^\[|\]$/g, ''), port, scheme }
}

export async function readClientConfig(home: string): Promise<ClientConfig> {
  const path = join(home, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { home, path, doc: { auths: {} } }
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    // An empty file is what an interrupted editor leaves; treat it as no logins.
    doc = text.trim() === '' ? {} : JSON.parse(text)
  } catch (err) {
    throw new CliError(`${path} is not valid JSON (${(err as Error).message}); fix it or delete it and log in again`)
  }
  if (!isJsonObject(doc)) throw new CliError(`${path} must hold a JSON object like {"auths": {...}}`)
  const auths = doc.auths ?? {}
  if (!isJsonObject(auths)) throw new CliError(`${path}: "auths" must be an object keyed by host:port`)
  for (const [key, entry] of Object.entries(auths)) {
    if (!isJsonObject(entry)) throw new CliError(`${path}: auths[${JSON.stringify(key)}] must be an object like {"auth": "..."}`)
  }
  if (doc.defaultRegistry !== undefined && typeof doc.defaultRegistry !== 'string') {
    throw new CliError(`${path}: "defaultRegistry" must be a string (host:port)`)
  }
  return { home, path, doc: { ...doc, auths: auths as Record<string, Json> } }
}

/** The stored key for `server`, matched the way parseServer normalises, or undefined. */
function findKey(config: ClientConfig, server: string): string | undefined {
  if (Object.hasOwn(config.doc.auths, server)) return server
  return Object.keys(config.doc.auths).find((key) => {
    try {
      return parseServer(key).server === server
    } catch {
      return false
    }
  })
}

function decodeEntry(config: ClientConfig, key: string, server: string): ServerEntry {
  const entry = config.doc.auths[key]
  const where = `${config.path}: auths[${JSON.stringify(key)}]`
  if (entry === undefined) throw new CliError(`${where} is missing; log in with: packyard registry login ${server}`)
  if (typeof entry.auth !== 'string' || entry.auth === '') {
    throw new CliError(`${where} has no "auth"; log in again with: packyard registry login ${server}`)
  }
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry.auth.trim())) {
    throw new CliError(`${where}.auth must be the base64 of user:password; log in again with: packyard registry login ${server}`)
  }
  // Hand-written files have been seen with "insecure": "true".
  const insecure = entry.insecure === true || entry.insecure === 'true'
  return { server, user: decoded.slice(0, colon), password: decoded.slice(colon + 1), auth: entry.auth.trim(), insecure }
}

/** The stored login for `server`, if any. */
export function findEntry(config: ClientConfig, server: string): ServerEntry | undefined {
  const key = findKey(config, server)
  return key === undefined ? undefined : decodeEntry(config, key, server)
}

/**
 * The server a command talks to: `-r` (or a positional SERVER) when given, else
 * defaultRegistry, else the only login there is. Errors say how to log in.
 */
export function selectEntry(config: ClientConfig, requested: string | undefined): ServerEntry {
  let server: string
  if (requested !== undefined) {
    server = parseServer(requested).server
  } else {
    const fallback = defaultServer(config)
    if (fallback === undefined) {
      throw new CliError(
        Object.keys(config.doc.auths).length === 0
          ? `not logged in to any registry (${config.path} has no logins); run: packyard registry login HOST:PORT`
          : `no default registry in ${config.path}; pass -r HOST:PORT, or run: packyard registry login HOST:PORT --default`,
      )
    }
    const parsed = safeServer(fallback)
    if (parsed === undefined) {
      throw new CliError(`${config.path}: defaultRegistry ${JSON.stringify(fallback)} is not host:port; fix it, or run: packyard registry login HOST:PORT --default`)
    }
    server = parsed
  }
  const entry = findEntry(config, server)
  if (entry === undefined) {
    throw new CliError(`not logged in to ${server} (no entry in ${config.path}); run: packyard registry login ${server}`)
  }
  return entry
}

/** defaultRegistry, or the single login when there is exactly one. */
export function defaultServer(config: ClientConfig): string | undefined {
  const stored = config.doc.defaultRegistry
  if (typeof stored === 'string' && stored !== '') return stored
  const keys = Object.keys(config.doc.auths)
  return keys.length === 1 ? keys[0] : undefined
}

/** Records a login; the first login, or `makeDefault`, becomes defaultRegistry. */
export function setEntry(config: ClientConfig, login: { server: string; user: string; password: string; insecure: boolean; makeDefault: boolean }): void {
  const key = findKey(config, login.server)
  const previous = key === undefined ? {} : config.doc.auths[key]
  if (key !== undefined && key !== login.server) delete config.doc.auths[key]
  const entry: Json = { ...previous, auth: Buffer.from(`${login.user}:${login.password}`, 'utf8').toString('base64') }
  // Spectro writes the key only when true; keep a hand-written false as false.
  if (login.insecure) entry.insecure = true
  else if ('insecure' in entry) entry.insecure = false
  config.doc.auths[login.server] = entry
  // A defaultRegistry naming a server without a login (e.g. after a hand edit) counts as none.
  const current = config.doc.defaultRegistry
  const currentServer = typeof current === 'string' ? safeServer(current) : undefined
  if (login.makeDefault || currentServer === undefined || findKey(config, currentServer) === undefined) {
    config.doc.defaultRegistry = login.server
  }
}

function safeServer(raw: string): string | undefined {
  try {
    return parseServer(raw).server
  } catch {
    return undefined
  }
}

/** Forgets a login; returns false when there was none. Clears defaultRegistry if it was that server. */
export function removeEntry(config: ClientConfig, server: string): boolean {
  const key = findKey(config, server)
  if (key === undefined) return false
  delete config.doc.auths[key]
  const current = config.doc.defaultRegistry
  if (typeof current === 'string' && safeServer(current) === server) delete config.doc.defaultRegistry
  return true
}

/**
 * Writes the config atomically (temp file in the same folder, fsync, rename), mode 0600, and
 * creates the home folder (0700) when missing. Returns the file's real path.
 */
export async function writeClientConfig(config: ClientConfig): Promise<string> {
  try {
    // The home first, with its own mode: writeFileAtomic would make it with the default one.
    await mkdir(config.home, { recursive: true, mode: 0o700 })
    await writeFileAtomic(config.path, `${JSON.stringify(config.doc, null, 2)}\n`, 0o600)
    return join(await realpath(config.home), CONFIG_FILE)
  } catch (err) {
    throw new CliError(`cannot write ${config.path}: ${(err as Error).message}`)
  }
}
