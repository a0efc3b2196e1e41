// sync.registries[]: the upstream pack registries to mirror (DESIGN §10), parsed and checked
// entry by entry so an error names the entry and the key (`sync.registries[1].content[0].versions`).
// Regexes, globs and semver ranges are compiled here, so a bad one stops start-up, not a sync run.

import { validRange } from 'semver'
import { ConfigError } from './leaf.js'
import { parseDuration, DURATION_HINT } from './duration.js'

/** One `content` rule: a tag is selected when its pack matches a glob and the rest agree. */
export interface SyncContentRule {
  /** Globs on pack names (`*`, `?`); empty: every pack. */
  packs: string[]
  /** A semver range the tag's version must satisfy (pre-releases included); null: any. */
  versions: string | null
  tags: RegExp | null
  excludeTags: RegExp | null
}

export interface SyncRegistryConfig {
  /** scheme://host[:port], without a trailing slash and without credentials. */
  url: string
  api: 'v1' | 'v2'
  /** v2 only: the path before `spectro-packs/archive/` ('' when none). */
  basePath: string
  username: string | null
  password: string | null
  /** A YAML file with `username` and `password`, read at each run (rotated without a restart). */
  credentialsFile: string | null
  tlsVerify: boolean
  /** A directory of PEM CA certificates (*.crt, *.pem) trusted for this upstream; null: the system's. */
  certDir: string | null
  /** Pull-through: a pull of a pack or tag not here that the content rules allow fetches it first. */
  onDemand: boolean
  /** How long a pull waits for an on-demand fetch before answering 503 (the fetch goes on). */
  onDemandTimeoutMs: number
  /** 0: no periodic runs (only `packyard sync`). */
  pollIntervalMs: number
  /** Empty: everything. */
  content: SyncContentRule[]
  retries: number
  retryDelayMs: number
  maxConcurrency: number
}

const ENTRY_KEYS = ['url', 'api', 'basepath', 'username', 'password', 'credentialsfile', 'tlsverify', 'certdir', 'ondemand', 'ondemandtimeout', 'pollinterval', 'content', 'retries', 'retrydelay', 'maxconcurrency']
const RULE_KEYS = ['packs', 'versions', 'tags', 'excludetags']
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/

/** The value of sync.registries (a YAML list, or YAML flow text from REGISTRY_SYNC_REGISTRIES). */
export function parseSyncRegistries(key: string, value: unknown): SyncRegistryConfig[] {
  if (value === null || value === undefined || value === '') return []
  if (!Array.isArray(value)) throw new ConfigError(key, 'must be a list of upstream registries, each with at least a url')
  const parsed = value.map((entry, i) => parseEntry(`${key}[${i}]`, entry))
  const seen = new Set<string>()
  for (const [i, r] of parsed.entries()) {
    const id = `${r.url}|${r.basePath}`
    if (seen.has(id)) throw new ConfigError(`${key}[${i}].url`, `${r.url}${r.basePath ? ` (basepath ${r.basePath})` : ''} is listed twice`)
    seen.add(id)
  }
  return parsed
}

/**
 * distribution's `proxy` section: one on-demand upstream with all content, over the OCI API (what
 * distribution's proxy speaks to its remote).
 */
export function proxyRegistry(remoteUrl: string, username: string, password: string): SyncRegistryConfig {
  try {
    return parseEntry('proxy', { url: remoteUrl, api: 'v2', ...(username === '' ? {} : { username }), ...(password === '' ? {} : { password }), ondemand: true })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    throw new ConfigError(err.key === 'proxy.url' ? 'proxy.remoteurl' : err.key, err.reason)
  }
}

function parseEntry(at: string, entry: unknown): SyncRegistryConfig {
  const doc = mapping(at, entry, ENTRY_KEYS)
  const url = parseUrl(`${at}.url`, doc.url)
  const api = doc.api ?? 'v1'
  if (api !== 'v1' && api !== 'v2') throw new ConfigError(`${at}.api`, `must be v1 (the distribution API at /v1: spectro-registry, Packyard) or v2 (an OCI registry) (got ${JSON.stringify(api)})`)
  const basePath = optionalString(`${at}.basepath`, doc.basepath).replace(/^\/+|\/+$/g, '')
  if (basePath !== '') {
    if (api === 'v1') throw new ConfigError(`${at}.basepath`, 'only an api: v2 upstream has a basepath (packs at <basepath>/spectro-packs/archive/<name>)')
    if (!basePath.split('/').every((c) => PATH_COMPONENT.test(c))) throw new ConfigError(`${at}.basepath`, `must be an OCI repository path such as production or team/packs (got ${JSON.stringify(doc.basepath)})`)
  }
  const username = optionalString(`${at}.username`, doc.username)
  const password = optionalString(`${at}.password`, doc.password)
  const credentialsFile = optionalString(`${at}.credentialsfile`, doc.credentialsfile)
  if (credentialsFile !== '' && (username !== '' || password !== '')) throw new ConfigError(`${at}.credentialsfile`, 'set username and password, or credentialsfile, not both')
  if ((username === '') !== (password === '')) throw new ConfigError(`${at}.${username === '' ? 'username' : 'password'}`, 'set both username and password, or neither')
  const certDir = optionalString(`${at}.certdir`, doc.certdir)
  return {
    url,
    api,
    basePath,
    username: username === '' ? null : username,
    password: password === '' ? null : password,
    credentialsFile: credentialsFile === '' ? null : credentialsFile,
    tlsVerify: bool(`${at}.tlsverify`, doc.tlsverify, true),
    certDir: certDir === '' ? null : certDir,
    onDemand: bool(`${at}.ondemand`, doc.ondemand, false),
    onDemandTimeoutMs: positiveDuration(`${at}.ondemandtimeout`, doc.ondemandtimeout, 30_000),
    pollIntervalMs: duration(`${at}.pollinterval`, doc.pollinterval, 0),
    content: parseContent(`${at}.content`, doc.content),
    retries: int(`${at}.retries`, doc.retries, 3, 0, 10),
    retryDelayMs: duration(`${at}.retrydelay`, doc.retrydelay, 1000),
    maxConcurrency: int(`${at}.maxconcurrency`, doc.maxconcurrency, 4, 1, 64),
  }
}

function parseContent(at: string, value: unknown): SyncContentRule[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new ConfigError(at, 'must be a list of rules such as {packs: ["cni-*"], versions: ">=1.28.0"}')
  return value.map((rule, i) => {
    const here = `${at}[${i}]`
    const doc = mapping(here, rule, RULE_KEYS)
    const packs = doc.packs === undefined ? [] : typeof doc.packs === 'string' ? [doc.packs] : doc.packs
    if (!Array.isArray(packs) || !packs.every((p) => typeof p === 'string' && /^[a-z0-9._*?-]+$/.test(p))) {
      throw new ConfigError(`${here}.packs`, `must be a list of pack name globs made of a-z 0-9 . _ - and the wildcards * ? (got ${JSON.stringify(doc.packs)})`)
    }
    const versions = optionalString(`${here}.versions`, doc.versions).trim()
    if (versions !== '' && validRange(versions) === null) throw new ConfigError(`${here}.versions`, `${JSON.stringify(versions)} is not a semver range such as ">=1.28.0" or "^3.0.0 || ~2.6"`)
    return { packs: packs as string[], versions: versions === '' ? null : versions, tags: regex(`${here}.tags`, doc.tags), excludeTags: regex(`${here}.excludetags`, doc.excludetags) }
  })
}

function mapping(at: string, value: unknown, keys: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(at, `must be a mapping with the keys ${keys.join(', ')}`)
  for (const k of Object.keys(value)) if (!keys.includes(k)) throw new ConfigError(`${at}.${k}`, `unknown key (known keys here: ${keys.join(', ')})`)
  return value as Record<string, unknown>
}

function parseUrl(at: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(at, 'name the upstream registry, such as https://registry.example.com')
  let u: URL
  try {
    u = new URL(value.trim())
  } catch {
    throw new ConfigError(at, `${JSON.stringify(value)} is not a URL such as https://registry.example.com`)
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(at, `must be an http:// or https:// URL (got ${JSON.stringify(value)})`)
  if (u.username !== '' || u.password !== '') throw new ConfigError(at, 'must not hold credentials; use username and password, or credentialsfile')
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '') throw new ConfigError(at, `must be the registry's root (scheme://host[:port]) without a path; an OCI upstream's path goes in basepath (got ${JSON.stringify(value)})`)
  return u.origin
}

function optionalString(at: string, value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'number') return String(value)
  if (typeof value !== 'string') throw new ConfigError(at, `must be a string (got ${JSON.stringify(value)})`)
  return value
}

function bool(at: string, value: unknown, def: boolean): boolean {
  if (value === undefined || value === null) return def
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  throw new ConfigError(at, `must be true or false (got ${JSON.stringify(value)})`)
}

function int(at: string, value: unknown, def: number, min: number, max: number): number {
  if (value === undefined || value === null) return def
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(at, `must be a whole number between ${min} and ${max} (got ${JSON.stringify(value)})`)
  return n
}

function duration(at: string, value: unknown, def: number): number {
  if (value === undefined || value === null) return def
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000
  const ms = value === '0' ? 0 : typeof value === 'string' ? parseDuration(value) : null
  if (ms === null) throw new ConfigError(at, `${DURATION_HINT} (got ${JSON.stringify(value)})`)
  return ms
}

function positiveDuration(at: string, value: unknown, def: number): number {
  const ms = duration(at, value, def)
  if (ms <= 0) throw new ConfigError(at, 'must be longer than 0s')
  return ms
}

function regex(at: string, value: unknown): RegExp | null {
  const text = optionalString(at, value)
  if (text === '') return null
  try {
    return new RegExp(text)
  } catch (err) {
    throw new ConfigError(at, `not a valid regular expression: ${(err as Error).message}`)
  }
}
