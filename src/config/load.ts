// Builds the typed Config from, in order: built-in defaults, a YAML file, REGISTRY_* environment
// variables. Every key is checked against config/schema.ts; an unknown key or a bad value
// throws ConfigError naming the key, so start-up stops before anything is opened.

import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { closest } from '../nearest.js'
import { rootLayout } from '../store/layout.js'
import { checkDatabaseUrl } from './database.js'
import { ConfigError, parseLeaf } from './leaf.js'
import { isLeaf, LETS_ENCRYPT_DIRECTORY, type Leaf, type LeafType, type Section, SCHEMA } from './schema.js'
import type { S3Settings } from '../store/s3.js'
import { parseSyncRegistries, proxyRegistry, type SyncRegistryConfig } from './sync.js'
import { type NotificationEndpoint, parseEndpoints } from './notifications.js'

export const DEFAULT_CONFIG_PATH = '/etc/spectro/config.yml'

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

/** HTTPS: where the certificate comes from, plus what applies to either source. */
export interface TlsConfig {
  certificates: CertificateFiles | LetsEncrypt
  /** CA files for client certificates; empty means no mutual TLS. */
  clientcas: string[]
  minimumtls: 'tls1.2' | 'tls1.3'
}

/** http.tls.certificate and http.tls.key: PEM files kept up to date by someone else. */
export interface CertificateFiles {
  kind: 'files'
  certificate: string
  key: string
}

/** http.tls.letsencrypt: certificates obtained and renewed over ACME. */
export interface LetsEncrypt {
  kind: 'letsencrypt'
  cachefile: string
  email: string
  /** Lower-case DNS names; the certificate covers all of them. */
  hosts: string[]
  directoryUrl: string
  /** Where HTTP-01 challenges are answered (and everything else redirected to HTTPS); null: TLS-ALPN-01 only. */
  httpAddr: { addr: string; host: string; port: number } | null
  startTimeoutMs: number
}

/** How log lines are written: `auto` is text on a terminal and JSON otherwise. */
export type LogFormat = 'auto' | 'text' | 'json'

/**
 * Where the metadata lives: SQLite at storage.databasePath (database.url empty, the default), or
 * PostgreSQL at database.url. The TLS files are paths, read when the pool is built.
 */
export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; pool: number; connectTimeoutMs: number; tls: { ca: string | null; cert: string | null; key: string | null } }

/** storage.s3: the bucket and how to reach it, in the shape the S3 store takes. */
export type S3Config = S3Settings

export interface Config {
  /** Where the config came from, for the start-up log. */
  source: string
  /** The config file read, if any (the server reloads auth.access.writers from it). */
  file: string | null
  log: { level: LogLevel; fields: Record<string, string>; formatter: LogFormat }
  storage: {
    kind: 'filesystem' | 'inmemory' | 's3'
    /**
     * The local data directory: the filesystem storage's root, or with S3 the folder of the
     * database (upload staging, initial-admin-password).
     */
    rootdirectory: string
    /** The SQLite metadata database (':memory:' for inmemory). */
    databasePath: string
    s3: S3Config | null
    /** storage.redirect.disable: false (S3 only): blob GETs answer 307 to a pre-signed URL. */
    redirect: boolean
    /**
     * storage.filesystem.accelredirect (filesystem only): the path prefix of nginx's internal
     * location over `<rootdirectory>/blobs/`; blob GETs answer X-Accel-Redirect to it. null: off.
     */
    accelRedirect: string | null
    deleteEnabled: boolean
    uploadPurging: { enabled: boolean; ageMs: number; emptyAgeMs: number; intervalMs: number }
  }
  database: DatabaseConfig
  http: {
    addr: string
    host: string
    port: number
    headers: Record<string, string[]>
    drainTimeoutMs: number
    bodyIdleTimeoutMs: number
    /** Addresses and CIDRs whose X-Forwarded-For is believed. */
    trustedProxies: string[]
    tls: TlsConfig | null
  }
  /** Users and writers; null for an open registry (`auth: none`, REGISTRY_AUTH=none). */
  auth: {
    realm: string
    /**
     * The htpasswd file: auth.htpasswd.path, else `<root>/htpasswd`; null with in-memory storage
     * and no path, where the users (the generated admin) live in memory only.
     */
    htpasswdPath: string | null
    writers: string[]
  } | null
  limits: {
    archiveSize: number
    unpackedSize: number
    entries: number
    fileSize: number
    manifestSize: number
    bodySize: number
    pageSize: number
    loginFailures: number
    addressLoginFailures: number
    loginLockoutMs: number
    maxCompressionRatio: number
    uploadSessions: number
  }
  packs: { strictValidation: boolean }
  metrics: {
    enabled: boolean
    /** metrics.addr: a listener of its own for /metrics (no credentials); null: /metrics on http.addr, with credentials. */
    addr: { addr: string; host: string; port: number } | null
  }
  notifications: {
    /** Every configured endpoint, the disabled ones too (they are shown, not sent to). */
    endpoints: NotificationEndpoint[]
    includeReferences: boolean
    retention: { maxAgeMs: number; maxEvents: number }
  }
  oci: { namespace: string; listParentTags: boolean }
  /** The pack browser; path is `/` or a path without a trailing slash (`/ui`). */
  ui: { enabled: boolean; path: string }
  /**
   * This server process among the replicas sharing the metadata: its id (replica.id, default
   * `<host name>:<port>`) and the URL it is reachable at (replica.address).
   */
  replica: { id: string; address: string }
  /** sync.registries: the upstreams `packyard sync` (and the server, with a pollinterval) mirrors. */
  sync: { registries: SyncRegistryConfig[] }
  /** Keys that were accepted for compatibility but have no effect. */
  ignoredKeys: string[]
}


type Doc = Record<string, unknown>

export interface LoadOptions {
  /** A YAML file; when absent, /etc/spectro/config.yml if present, else built-in defaults. */
  file?: string | undefined
  env?: NodeJS.ProcessEnv
  /** Parsed YAML document used instead of a file (tests). */
  doc?: Doc
}

/** The storage driver is chosen by its section's presence; the built-in defaults have one. */
const BUILT_IN_DOC: Doc = { storage: { filesystem: {} } }

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env
  let doc: Doc
  let source: string
  const file = options.doc ? undefined : configFileFor(options.file)
  if (options.doc) {
    doc = structuredClone(options.doc)
    source = 'inline'
  } else {
    if (file) {
      doc = readYamlFile(file)
      source = file
    } else {
      doc = structuredClone(BUILT_IN_DOC)
      source = 'built-in defaults'
    }
  }
  expandShorthands(doc)
  applyEnv(doc, env)
  return { ...resolve(doc, source), file: file ?? null }
}

/** The config file a command reads: the one named, else /etc/spectro/config.yml when present; undefined means the built-in defaults. */
export function configFileFor(file: string | undefined): string | undefined {
  return file ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined)
}

function readYamlFile(file: string): Doc {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text)
  } catch (err) {
    throw new ConfigError(file, `not valid YAML: ${(err as Error).message}`)
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(file, 'the top level must be a mapping of keys')
  return parsed as Doc
}

/** `storage: inmemory`, `auth: htpasswd` and `auth: none` are the short spellings of `{inmemory: {}}`. */
function expandShorthands(doc: Doc): void {
  for (const key of ['storage', 'auth']) {
    const value = doc[key]
    if (typeof value === 'string') doc[key] = { [value]: {} }
  }
}

const ENV_PREFIX = 'REGISTRY_'
const STORAGE_DRIVERS = ['filesystem', 'inmemory', 's3']
const AUTH_DRIVERS = ['htpasswd', 'none']

/** REGISTRY_HTTP_TLS_CERTIFICATE → ['http','tls','certificate']. Keys never contain `_`. */
function applyEnv(doc: Doc, env: NodeJS.ProcessEnv): void {
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX)).sort()
  for (const name of names) {
    const value = env[name] as string
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('_')
    const node = schemaAt(path)
    if (node === undefined) {
      const nearest = closest(path.join('_'), envKeys(SCHEMA, []))
      throw new ConfigError(name, `unknown environment override (no config key ${path.join('.')})${nearest ? `; did you mean ${ENV_PREFIX}${nearest.toUpperCase()}?` : ''}`)
    }
    if (path.length === 1 && (path[0] === 'auth' || path[0] === 'storage')) {
      // REGISTRY_AUTH=htpasswd selects the section (in place of the file's driver, as
      // REGISTRY_AUTH=none does); its keys come from their own variables.
      const drivers = path[0] === 'auth' ? AUTH_DRIVERS : STORAGE_DRIVERS
      const section = ensureSection(doc, path, name)
      if (!(value in section)) {
        for (const k of Object.keys(section)) if (drivers.includes(k)) delete section[k]
        section[value] = {}
      }
      continue
    }
    if (isLeaf(node)) {
      const parent = ensureSection(doc, path.slice(0, -1), name)
      try {
        parent[path[path.length - 1] as string] = fromEnvString(node.type, value)
      } catch (err) {
        // Lists and maps come as YAML flow (`[{name: ci, url: "..."}]`).
        throw new ConfigError(name, `not valid YAML flow: ${(err as Error).message.split('\n')[0]}`)
      }
    } else {
      ensureSection(doc, path, name)
    }
  }
}

/** Every key's variable name after REGISTRY_, in lower case: `http_addr`, `storage_s3_bucket`... */
function envKeys(section: Section, path: string[]): string[] {
  return Object.entries(section).flatMap(([key, node]) => {
    const here = [...path, key]
    return [here.join('_'), ...(isLeaf(node) ? [] : envKeys(node, here))]
  })
}

function schemaAt(path: string[]): Leaf | Section | undefined {
  let node: Leaf | Section = SCHEMA
  for (const key of path) {
    if (isLeaf(node)) return undefined
    const next: Leaf | Section | undefined = node[key]
    if (next === undefined) return undefined
    node = next
  }
  return node
}

function ensureSection(doc: Doc, path: string[], name: string): Doc {
  let cur = doc
  for (const key of path) {
    const next = cur[key]
    if (next === undefined || next === null || next === '') {
      cur[key] = {}
    } else if (typeof next !== 'object' || Array.isArray(next)) {
      throw new ConfigError(name, `cannot set a key below ${key}, which is not a section`)
    }
    cur = cur[key] as Doc
  }
  return cur
}

/** Environment values are strings; lists and maps may be written as YAML flow (`[a, b]`). */
function fromEnvString(type: LeafType, value: string): unknown {
  switch (type.kind) {
    case 'strings':
      if (value.trim().startsWith('[')) return parseYaml(value)
      return value.split(',').map((s) => s.trim()).filter((s) => s !== '')
    case 'stringmap':
    case 'headers':
    case 'syncregistries':
    case 'endpoints':
      return parseYaml(value)
    default:
      return value
  }
}

function resolve(doc: Doc, source: string): Omit<Config, 'file'> {
  const ignoredKeys: string[] = []
  const values = new Map<string, unknown>()
  walk(doc, SCHEMA, [], values, ignoredKeys)
  const get = <T>(key: string): T => (values.has(key) ? values.get(key) : defaultAt(key)) as T

  const storageDoc = (doc.storage ?? {}) as Doc
  const drivers = STORAGE_DRIVERS.filter((d) => d in storageDoc)
  // Named before the choice of one driver, which a filesystem section holding only this key would fail.
  const other = drivers.find((d) => d !== 'filesystem')
  if (other && get<string>('storage.filesystem.accelredirect') !== '') {
    throw new ConfigError('storage.filesystem.accelredirect', `nginx can send blob files only from filesystem storage, not ${other}${other === 's3' ? ' (storage.redirect.disable: false sends downloads to the bucket instead)' : ''}; remove it`)
  }
  if (drivers.length > 1) throw new ConfigError('storage', `choose one of filesystem, inmemory or s3, not ${drivers.length === 2 ? 'both ' : ''}${drivers.join(' and ')} (REGISTRY_STORAGE=s3 selects s3 in place of the file's driver)`)
  const kind = (drivers[0] ?? 'filesystem') as Config['storage']['kind']
  const storage = resolveStorage(kind, get)

  const addr = get<string>('http.addr')
  const { host, port } = parseAddr(addr)

  const certificates = resolveCertificates(get)
  const sync = { registries: syncRegistries(get) }
  // Checked even when metrics are off, so turning them back on cannot reveal a typo.
  const metricsAddr = get<string>('metrics.addr')
  const metricsAt = metricsAddr === '' ? null : { addr: metricsAddr, ...parseAddr(metricsAddr, 'metrics.addr') }
  const metricsEnabled = get<boolean>('metrics.enabled')

  // Users from htpasswd unless the config says `auth: none`: a config without an auth section
  // is as safe as no config at all (the htpasswd of the data directory, admin created).
  const authDoc = (doc.auth ?? {}) as Doc
  const open = 'none' in authDoc
  if (open && 'htpasswd' in authDoc) throw new ConfigError('auth', 'choose htpasswd (users) or none (an open registry), not both (REGISTRY_AUTH=none selects none in place of the file\'s htpasswd)')

  return {
    source,
    log: { level: get('log.level'), fields: get('log.fields'), formatter: logFormat(get('log.formatter')) },
    storage: {
      ...storage,
      deleteEnabled: get('storage.delete.enabled'),
      uploadPurging: {
        enabled: get('storage.maintenance.uploadpurging.enabled'),
        ageMs: get('storage.maintenance.uploadpurging.age'),
        emptyAgeMs: get('storage.maintenance.uploadpurging.emptyage'),
        intervalMs: get('storage.maintenance.uploadpurging.interval'),
      },
    },
    database: checkPool(resolveDatabase(storage.databasePath, get), {
      senders: get<NotificationEndpoint[]>('notifications.endpoints').filter((e) => !e.disabled).length,
      polledUpstreams: sync.registries.filter((r) => r.pollIntervalMs > 0).length,
      certificateOrders: certificates?.kind === 'letsencrypt' ? 1 : 0,
    }),
    http: {
      addr,
      host,
      port,
      headers: get('http.headers'),
      drainTimeoutMs: get('http.draintimeout'),
      bodyIdleTimeoutMs: get('http.bodyidletimeout'),
      trustedProxies: validateProxies(get('http.trustedproxies')),
      tls: certificates && { certificates, clientcas: get('http.tls.clientcas'), minimumtls: get('http.tls.minimumtls') },
    },
    auth: open
      ? null
      : { realm: get('auth.htpasswd.realm'), htpasswdPath: htpasswdPathFor(get('auth.htpasswd.path'), kind === 'inmemory', storage.rootdirectory), writers: get('auth.access.writers') },
    limits: {
      archiveSize: get('limits.archivesize'),
      unpackedSize: get('limits.unpackedsize'),
      entries: get('limits.entries'),
      fileSize: get('limits.filesize'),
      manifestSize: get('limits.manifestsize'),
      bodySize: get('limits.bodysize'),
      pageSize: get('limits.pagesize'),
      loginFailures: get('limits.loginfailures'),
      addressLoginFailures: get('limits.addressloginfailures'),
      loginLockoutMs: get('limits.loginlockout'),
      maxCompressionRatio: get('limits.maxcompressionratio'),
      uploadSessions: get('limits.uploadsessions'),
    },
    packs: { strictValidation: get<string>('packs.validation') === 'strict' },
    metrics: { enabled: metricsEnabled, addr: metricsEnabled ? metricsAt : null },
    notifications: {
      endpoints: get('notifications.endpoints'),
      includeReferences: get('notifications.events.includereferences'),
      retention: { maxAgeMs: validateMaxAge(get('notifications.retention.maxage')), maxEvents: get('notifications.retention.maxevents') },
    },
    oci: { namespace: validateNamespace(get('oci.namespace')), listParentTags: get('oci.listparenttags') },
    ui: { enabled: get('ui.enabled'), path: validateUiPath(get('ui.path')) },
    sync,
    replica: resolveReplica(get, port, certificates !== null),
    ignoredKeys,
  }
}

/** Characters a replica id may hold: what a host name and a port are written with. */
const REPLICA_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/**
 * replica.id and replica.address, defaulting to this host's name and http.addr's port: stable
 * across restarts on one host, and distinct for two servers on one host (they cannot share a port).
 */
function resolveReplica(get: <T>(key: string) => T, port: number, tls: boolean): Config['replica'] {
  const host = hostname()
  const configuredId = get<string>('replica.id').trim()
  const id = configuredId === '' ? `${host}:${port}` : configuredId
  if (!REPLICA_ID.test(id)) {
    const why = configuredId === '' ? ` (the default, from this host's name ${JSON.stringify(host)}); set replica.id` : ''
    throw new ConfigError('replica.id', `${JSON.stringify(id)} is not a replica id: 1 to 128 letters, digits and . _ : - starting with a letter or digit, such as registry-1 or host-a:5000${why}`)
  }
  const configuredAddress = get<string>('replica.address').trim()
  if (configuredAddress === '') return { id, address: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}` }
  let url: URL | null = null
  try {
    url = new URL(configuredAddress)
  } catch {
    // Not a URL at all: refused below with the form it must take.
  }
  if (url === null || !/^https?:$/.test(url.protocol) || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || !/^\/?$/.test(url.pathname) || /[\s<>"']/.test(configuredAddress)) {
    throw new ConfigError('replica.address', `must be the URL this replica is reached at, http(s)://host:port without a path, credentials or query, such as http://10.0.0.7:5000 (got ${JSON.stringify(configuredAddress)})`)
  }
  return { id, address: url.origin }
}

/** sync.registries, and distribution's proxy.remoteurl as one more (on demand, all content). */
function syncRegistries(get: <T>(key: string) => T): SyncRegistryConfig[] {
  const registries = get<SyncRegistryConfig[]>('sync.registries')
  const remote = get<string>('proxy.remoteurl').trim()
  if (remote === '') return registries
  const proxy = proxyRegistry(remote, get('proxy.username'), get('proxy.password'))
  if (registries.some((r) => r.url === proxy.url && r.basePath === '')) throw new ConfigError('proxy.remoteurl', `${proxy.url} is in sync.registries too; list it once`)
  return [...registries, proxy]
}

/** distribution's `logstash` formatter writes JSON lines; so does `json`. */
function logFormat(value: string): LogFormat {
  return value === 'logstash' ? 'json' : (value as LogFormat)
}

/**
 * An unset auth.htpasswd.path means the htpasswd of the storage root (with S3, of the local data
 * directory): one data directory holds everything.
 */
function htpasswdPathFor(configured: string, inMemory: boolean, root: string): string | null {
  if (configured.trim() !== '') return configured
  return inMemory ? null : rootLayout(root).htpasswd
}

/** Where the local files and the database live, and the S3 settings when S3 stores the blobs. */
function resolveStorage(kind: Config['storage']['kind'], get: <T>(key: string) => T): Pick<Config['storage'], 'kind' | 'rootdirectory' | 'databasePath' | 's3' | 'redirect' | 'accelRedirect'> {
  const databasePath = get<string>('database.path')
  const redirect = !get<boolean>('storage.redirect.disable')
  if (kind === 'inmemory') return { kind, rootdirectory: get('storage.filesystem.rootdirectory'), databasePath: ':memory:', s3: null, redirect: false, accelRedirect: null }
  if (kind === 'filesystem') {
    const rootdirectory = get<string>('storage.filesystem.rootdirectory')
    const accelRedirect = validateAccelRedirect(get('storage.filesystem.accelredirect'))
    return { kind, rootdirectory, databasePath: databasePath === '' ? rootLayout(rootdirectory).database : databasePath, s3: null, redirect: false, accelRedirect }
  }
  const path = databasePath === '' ? rootLayout(join('.', 'data')).database : databasePath
  return { kind, rootdirectory: dirname(path), databasePath: path, s3: resolveS3(get), redirect, accelRedirect: null }
}

/**
 * storage.filesystem.accelredirect: empty for off, else an nginx location such as
 * /_packyard/blobs/ (X-Accel-Redirect values are that prefix and a relative path, so it starts
 * and ends with a slash), never inside a path the API answers, which nginx would then keep.
 */
function validateAccelRedirect(value: string): string | null {
  const prefix = value.trim()
  if (prefix === '') return null
  if (!/^\/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*\/)+$/.test(prefix)) {
    throw new ConfigError(
      'storage.filesystem.accelredirect',
      `must be a path that starts and ends with /, such as /_packyard/blobs/, made of letters, digits and . _ ~ - (got ${JSON.stringify(value)}); empty turns it off`,
    )
  }
  const clash = API_PATHS.find((api) => prefix.startsWith(`${api}/`))
  if (clash) throw new ConfigError('storage.filesystem.accelredirect', `${prefix} is inside ${clash}, which the API serves; choose another path such as /_packyard/blobs/`)
  return prefix
}

function resolveS3(get: <T>(key: string) => T): S3Config {
  const s = <T>(key: string) => get<T>(`storage.s3.${key}`)
  const bucket = s<string>('bucket').trim()
  if (bucket === '') throw new ConfigError('storage.s3.bucket', 'name the bucket to store blobs in')
  const regionEndpoint = s<string>('regionendpoint').trim()
  const host = s<string>('host').trim()
  if (regionEndpoint !== '' && host !== '') throw new ConfigError('storage.s3.host', 'set regionendpoint or host (with port and secure), not both')
  let endpoint: string | null = null
  if (regionEndpoint !== '') {
    endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(regionEndpoint) ? regionEndpoint : `${s('secure') ? 'https' : 'http'}://${regionEndpoint}`
  } else if (host !== '') {
    const port = s<number>('port')
    endpoint = `${s('secure') ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}${port === 0 ? '' : `:${port}`}`
  }
  if (endpoint !== null) {
    try {
      new URL(endpoint)
    } catch {
      throw new ConfigError(regionEndpoint !== '' ? 'storage.s3.regionendpoint' : 'storage.s3.host', `${JSON.stringify(endpoint)} is not a URL such as https://minio.example.com:9000`)
    }
  }
  const accessKeyId = s<string>('accesskey')
  const secretAccessKey = s<string>('secretkey')
  if ((accessKeyId === '') !== (secretAccessKey === '')) {
    throw new ConfigError(accessKeyId === '' ? 'storage.s3.accesskey' : 'storage.s3.secretkey', 'set both accesskey and secretkey, or neither (the AWS default credential chain)')
  }
  const sessionToken = s<string>('sessiontoken')
  const partSize = s<number>('chunksize')
  if (partSize < 5 * 1024 * 1024) throw new ConfigError('storage.s3.chunksize', `must be at least 5MiB, the smallest part S3 accepts (got ${partSize} bytes)`)
  const keyId = s<string>('keyid')
  const storageClass = s<string>('storageclass')
  return {
    bucket,
    region: s('region'),
    endpoint,
    forcePathStyle: s<boolean>('forcepathstyle') || endpoint !== null,
    credentials: accessKeyId === '' ? null : { accessKeyId, secretAccessKey, ...(sessionToken === '' ? {} : { sessionToken }) },
    rootdirectory: s<string>('rootdirectory').replace(/^\/+|\/+$/g, ''),
    skipVerify: s('skipverify'),
    partSize,
    encryption: s('encrypt') ? (keyId === '' ? { kind: 'AES256' } : { kind: 'aws:kms', keyId }) : null,
    storageClass: storageClass === 'NONE' ? null : storageClass,
  }
}

/**
 * SQLite at the storage's database path unless database.url names a PostgreSQL server. TLS files
 * that would go unused (no database.url, no sslmode asking for TLS) are refused rather than
 * ignored: someone who set them expects them to be used.
 */
/** Connections beside those held for long (LongHolders), for requests and short one-at-a-time work. */
const POOL_BESIDE_LONG_HOLDERS = 4

/** What holds a pooled connection for long (Database.exclusively): each of these at once, at worst. */
interface LongHolders {
  /** Enabled notification endpoints: the replica delivering one holds its turn as long as it runs. */
  senders: number
  /** sync.registries with a pollinterval: each run holds its turn. */
  polledUpstreams: number
  /** A Let's Encrypt order holds its turn while it runs. */
  certificateOrders: number
}

/**
 * database.pool must leave connections for requests beside everything that may hold one for
 * long at once, and for upload purging, which holds one while its statements need others.
 */
function checkPool(database: DatabaseConfig, holders: LongHolders): DatabaseConfig {
  if (database.kind !== 'postgres') return database
  const needed = holders.senders + holders.polledUpstreams + holders.certificateOrders + POOL_BESIDE_LONG_HOLDERS
  if (database.pool < needed) {
    const held = [
      holders.senders > 0 ? `${holders.senders} notification endpoints` : '',
      holders.polledUpstreams > 0 ? `${holders.polledUpstreams} sync.registries with a pollinterval` : '',
      holders.certificateOrders > 0 ? "Let's Encrypt" : '',
    ].filter(Boolean)
    const each = held.length > 0 ? `each of ${held.join(', ')} holds one connection while it works, and ` : ''
    throw new ConfigError('database.pool', `is ${database.pool}, but ${each}work that runs one replica at a time (garbage collection, upload purging) holds one while its statements need others: set at least ${needed}`)
  }
  return database
}

function resolveDatabase(sqlitePath: string, get: <T>(key: string) => T): DatabaseConfig {
  const url = get<string>('database.url').trim()
  const files = { ca: get<string>('database.tls.ca').trim(), cert: get<string>('database.tls.cert').trim(), key: get<string>('database.tls.key').trim() }
  const set = (Object.keys(files) as (keyof typeof files)[]).filter((k) => files[k] !== '')
  if (url === '') {
    if (set.length > 0) throw new ConfigError(`database.tls.${set[0]}`, 'is for PostgreSQL, but database.url is empty (the metadata is in SQLite at database.path)')
    return { kind: 'sqlite', path: sqlitePath }
  }
  const { host, sslmode } = checkDatabaseUrl(url)
  if ((files.cert === '') !== (files.key === '')) {
    throw new ConfigError(files.cert === '' ? 'database.tls.cert' : 'database.tls.key', 'a client certificate needs both database.tls.cert and database.tls.key')
  }
  if (set.length > 0 && !host.startsWith('/') && (sslmode === null || sslmode === 'disable')) {
    throw new ConfigError(`database.tls.${set[0]}`, `is set, but database.url asks for no TLS (${sslmode === null ? 'no sslmode' : 'sslmode=disable'}); add ?sslmode=verify-full to it`)
  }
  if (sslmode === 'verify-ca' && files.ca === '') {
    throw new ConfigError('database.tls.ca', 'sslmode=verify-ca needs the CA that signed the server\'s certificate (against the system CAs any certificate a public CA issued would pass, whatever its name): set database.tls.ca, or use sslmode=verify-full')
  }
  const connectTimeoutMs = get<number>('database.connecttimeout')
  if (connectTimeoutMs <= 0) throw new ConfigError('database.connecttimeout', 'must be longer than 0s (start-up and requests would wait for ever), such as 10s')
  return {
    kind: 'postgres',
    url,
    pool: get('database.pool'),
    connectTimeoutMs,
    tls: { ca: files.ca || null, cert: files.cert || null, key: files.key || null },
  }
}

/** Files or Let's Encrypt (never both), as distribution decides: a cachefile turns ACME on. */
function resolveCertificates(get: <T>(key: string) => T): CertificateFiles | LetsEncrypt | null {
  const certificate = get<string>('http.tls.certificate')
  const key = get<string>('http.tls.key')
  if ((certificate === '') !== (key === '')) {
    throw new ConfigError(certificate === '' ? 'http.tls.certificate' : 'http.tls.key', 'TLS needs both http.tls.certificate and http.tls.key')
  }
  const cachefile = get<string>('http.tls.letsencrypt.cachefile')
  if (cachefile === '') {
    const set = ['email', 'hosts', 'httpaddr'].filter((k) => get<string | string[]>(`http.tls.letsencrypt.${k}`).length > 0)
    if (get('http.tls.letsencrypt.directoryurl') !== LETS_ENCRYPT_DIRECTORY) set.push('directoryurl')
    if (set.length > 0) {
      throw new ConfigError('http.tls.letsencrypt.cachefile', `Let's Encrypt needs a cache file (where the account key and certificates are kept); ${set.map((k) => `http.tls.letsencrypt.${k}`).join(', ')} is set without it`)
    }
    return certificate === '' ? null : { kind: 'files', certificate, key }
  }
  if (certificate !== '') {
    throw new ConfigError('http.tls.letsencrypt.cachefile', 'choose http.tls.certificate and key, or Let\'s Encrypt, not both')
  }
  const hosts = get<string[]>('http.tls.letsencrypt.hosts').map((h) => h.trim().toLowerCase().replace(/\.$/, ''))
  if (hosts.length === 0) throw new ConfigError('http.tls.letsencrypt.hosts', 'name the hosts to get a certificate for (the registry\'s DNS names)')
  for (const host of hosts) {
    if (!isDnsName(host)) {
      throw new ConfigError('http.tls.letsencrypt.hosts', `${JSON.stringify(host)} is not a DNS name (IP addresses and wildcards cannot be validated over HTTP-01 or TLS-ALPN-01)`)
    }
  }
  const directoryUrl = get<string>('http.tls.letsencrypt.directoryurl')
  if (!/^https:\/\/[^/]/.test(directoryUrl)) throw new ConfigError('http.tls.letsencrypt.directoryurl', `must be an https:// URL (got ${JSON.stringify(directoryUrl)})`)
  const httpAddr = get<string>('http.tls.letsencrypt.httpaddr')
  return {
    kind: 'letsencrypt',
    cachefile,
    email: get('http.tls.letsencrypt.email'),
    hosts: [...new Set(hosts)],
    directoryUrl,
    httpAddr: httpAddr === '' ? null : { addr: httpAddr, ...parseAddr(httpAddr, 'http.tls.letsencrypt.httpaddr') },
    startTimeoutMs: get('http.tls.letsencrypt.starttimeout'),
  }
}

function isDnsName(host: string): boolean {
  const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
  return host.length <= 253 && new RegExp(`^${label}(?:\\.${label})*$`).test(host) && !/^[0-9.]+$/.test(host)
}

function walk(doc: unknown, schema: Section, path: string[], out: Map<string, unknown>, ignored: string[]): void {
  if (doc === null || doc === undefined) return
  const here = path.join('.') || '(top level)'
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(here, 'must be a mapping of keys')
  for (const [key, value] of Object.entries(doc as Doc)) {
    const node = schema[key]
    const keyPath = [...path, key]
    const name = keyPath.join('.')
    if (node === undefined) {
      const known = Object.keys(schema).join(', ')
      throw new ConfigError(name, `unknown key (known keys here: ${known})`)
    }
    if (isLeaf(node)) {
      if (node.type.kind === 'unsupported') throw new ConfigError(name, node.doc)
      if (node.type.kind === 'ignored') {
        ignored.push(name)
        continue
      }
      out.set(name, parseValue(name, node.type, value))
    } else {
      walk(value === '' ? {} : value, node, keyPath, out, ignored)
    }
  }
}

function defaultAt(key: string): unknown {
  const node = schemaAt(key.split('.'))
  if (node === undefined || !isLeaf(node)) throw new Error(`no default for ${key}`)
  return structuredClone(node.default)
}

/** A leaf's value, the sections of entries (sync upstreams, notification endpoints) included. */
function parseValue(key: string, type: LeafType, value: unknown): unknown {
  if (type.kind === 'syncregistries') return parseSyncRegistries(key, value)
  if (type.kind === 'endpoints') return parseEndpoints(key, value)
  return parseLeaf(key, type, value)
}

export function parseAddr(addr: string, key = 'http.addr'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim())
  if (!m) throw new ConfigError(key, `must be host:port or :port (got ${JSON.stringify(addr)})`)
  const port = Number(m[3])
  if (port > 65535) throw new ConfigError(key, `port ${port} is out of range`)
  const host = m[1] ?? m[2] ?? ''
  return { host: host === '' ? '0.0.0.0' : host, port }
}

/**
 * Each entry is an IP address or a CIDR block (`10.0.0.0/8`, `fd00::/8`) with a prefix of at
 * least 1 bit: a /0 would believe a forged X-Forwarded-For from anyone, and the proxy matcher
 * Fastify uses refuses it.
 */
function validateProxies(entries: string[]): string[] {
  const form = 'an IP address (10.0.0.7) or a CIDR block (10.0.0.0/8, fd00::/8) whose prefix length is 1 to 32 for IPv4, 1 to 128 for IPv6'
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/')
    const family = isIP(address ?? '')
    const maxBits = family === 6 ? 128 : 32
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) >= 1 && Number(bits) <= maxBits)
    if (family === 0 || !validBits || extra !== undefined) {
      const everyone = family !== 0 && bits !== undefined && Number(bits) === 0 ? ' (a /0 would trust anyone\'s X-Forwarded-For: list the proxies\' own addresses or networks)' : ''
      throw new ConfigError('http.trustedproxies', `${JSON.stringify(entry)} is not ${form}${everyone}`)
    }
  }
  return entries
}

// The API's own top-level paths: the pack browser cannot live under them.
const API_PATHS = ['/v1', '/v2', '/health', '/metrics', '/openapi.json']

/** `/`, or a path such as `/ui` (a trailing slash is dropped); never one of the API's paths. */
function validateUiPath(path: string): string {
  const trimmed = path.trim()
  const normalized = trimmed.length > 1 ? trimmed.replace(/\/+$/, '') : trimmed
  if (!/^\/(?:[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*)?$/.test(normalized)) {
    throw new ConfigError('ui.path', `must be / or a path such as /ui made of letters, digits and . _ ~ - (got ${JSON.stringify(path)})`)
  }
  const clash = API_PATHS.find((api) => normalized === api || normalized.startsWith(`${api}/`))
  if (clash) throw new ConfigError('ui.path', `${normalized} is inside ${clash}, which the API serves; choose another path such as /ui`)
  return normalized
}

/** notifications.retention.maxage: 0s would drop every event before its first attempt. */
function validateMaxAge(ms: number): number {
  if (ms <= 0) throw new ConfigError('notifications.retention.maxage', 'must be longer than 0s (with 0s every event would be dropped before it is sent), such as 168h')
  return ms
}

function validateNamespace(ns: string): string {
  const component = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
  if (!new RegExp(`^${component}(?:/${component})*$`).test(ns)) {
    throw new ConfigError('oci.namespace', `must be a valid OCI repository path such as spectro-packs/archive (got ${JSON.stringify(ns)})`)
  }
  return ns
}
