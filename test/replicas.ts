// Several Packyard replicas behind nginx, as docker-compose.ha.yml runs them, for the tests (and
// for the chaos campaign and the bench, which pass their own teardown): a PostgreSQL database
// (freshDatabase, or a URL given), s3rver for the blobs (or one filesystem root all replicas
// share, as an NFS volume would be), N `node bin/packyard.js serve` processes, each with its own
// working directory and port (and with S3 its own local data directory) but otherwise the same config (one shared
// htpasswd file, the same bucket prefix or root, the same database), and nginx round-robin in
// front (test/nginx.ts, with the repo's deploy/nginx-proxy.conf). A replica can be killed with
// SIGKILL and started again on the same port and directory. Everything stops at teardown, and
// test/watchdog.ts stops whatever a killed test process leaves behind.
//
// s3rver's folder-removal race is kept out by a file in the uploads folder (see below).
//
// With log level info (the default) each replica's request log lines are read as they come:
// per replica, how many requests it answered and which ones got a 5xx; nothing else is kept but
// the tail of its output, for the message when it dies.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PACKAGE_ROOT } from '../src/paths.js'
import { type Nginx, type NginxOptions, startNginx } from './nginx.js'
import { freshDatabase } from './postgres.js'
import { S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, type S3Server, startS3Server } from './s3-helpers.js'
import { type Doc, freePort, merge, requireProgram, type Teardown, tempDir } from './system.js'
import { watchOwner } from './watchdog.js'

export interface User {
  user: string
  password: string
  /** Basic credentials for the Authorization header */
  authorization: string
}

export interface ReplicaSetOptions {
  /** how many replicas (3) */
  replicas?: number
  /** an empty PostgreSQL database; default: freshDatabase on the test run's server */
  databaseUrl?: string
  /** info (default) logs each request, counted per replica; warn for the bench */
  logLevel?: 'info' | 'warn'
  /** where the blobs are: s3 (the default, on s3rver) or one filesystem root all replicas share */
  storage?: 's3' | 'filesystem'
  /** merged over every replica's config (limits, http timeouts...) */
  config?: Record<string, unknown>
  /** for nginx, e.g. `accel: <root>/blobs` for X-Accel-Redirect with filesystem storage */
  nginx?: NginxOptions
}

export interface Replica {
  /** 1-based, as in replica-1 */
  index: number
  /** http://127.0.0.1:PORT */
  url: string
  /** 127.0.0.1:PORT */
  address: string
  /** its working directory: config.yml and, with S3, data/ (its local data: upload staging, first-start files) */
  dir: string
  /** its config file, for operator commands (`packyard fsck CONFIG`) */
  config: string
  /** the running process (a new one after restart) */
  process(): ChildProcess
  /** requests it answered since the harness started it (log level info only) */
  requests(): number
  /** "METHOD URL STATUS" of each answer with a 5xx other than 507 */
  serverErrors(): string[]
  /** why the process is gone, with its last output, if it died without being killed; else null */
  death(): string | null
  /** SIGKILL, as a crash or power loss; resolves once the process is gone */
  kill9(): Promise<void>
  /** a new process on the same config, port and directory; resolves once /health answers */
  restart(): Promise<void>
}

export interface ReplicaSet {
  /** nginx: http://127.0.0.1:PORT */
  url: string
  /** nginx's host:port, for CLI logins and docker:// references */
  host: string
  nginx: Nginx
  replicas: Replica[]
  /** holds the shared htpasswd; each replica's directory is in it too (replica-N/) */
  configDir: string
  htpasswd: string
  /** a writer and a read-only user */
  admin: User
  reader: User
  databaseUrl: string
  /** with S3 storage: s3rver, and the key prefix all replicas store under */
  s3: S3Server | null
  s3Prefix: string | null
  /** with filesystem storage: the root all replicas share */
  root: string | null
  /** every replica's 5xx answers */
  serverErrors(): string[]
}

const BIN = join(PACKAGE_ROOT, 'bin', 'packyard.js')
const START_TIMEOUT_MS = 30_000
const OUTPUT_KEPT = 8192

function user(name: string, password: string): User {
  return { user: name, password, authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}` }
}


/** The parent's environment without REGISTRY_* and AWS_* (the server would obey a stray one). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_') && !k.startsWith('AWS_')) env[k] = v
  return env
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return false
  }
}

class ReplicaProcess implements Replica {
  private child: ChildProcess | undefined
  private exited!: Promise<void>
  private output = ''
  private answered = 0
  private errors: string[] = []
  private killing = false
  readonly url: string

  constructor(
    readonly index: number,
    readonly address: string,
    readonly dir: string,
    readonly config: string,
  ) {
    this.url = `http://${address}`
  }

  async start(): Promise<void> {
    this.killing = false
    // With the V8 flag of bin/packyard.js's shebang, so the server runs as users run it.
    const child = spawn(process.execPath, ['--max-semi-space-size=16', BIN, 'serve', this.config], { cwd: this.dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    this.exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
    writeFileSync(join(this.dir, 'packyard.pid'), `${child.pid}\n`)
    let partial = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      this.keep(text)
      const lines = (partial + text).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) this.read(line)
    })
    child.stderr?.on('data', (chunk: Buffer) => this.keep(chunk.toString('utf8')))
    child.on('error', (error) => this.keep(`\n${String(error)}\n`))
    const deadline = Date.now() + START_TIMEOUT_MS
    while (!(await healthy(this.url))) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`replica-${this.index} did not start (exit ${child.exitCode ?? child.signalCode}):\n${this.output}`)
      }
      await sleep(50)
    }
  }

  private keep(text: string): void {
    this.output = (this.output + text).slice(-OUTPUT_KEPT)
  }

  /** One line of the JSON log: a request's line has its method, status and request id. */
  private read(line: string): void {
    if (!line.startsWith('{')) return
    let entry: Record<string, unknown>
    try {
      entry = JSON.parse(line) as Record<string, unknown>
    } catch {
      return
    }
    if (typeof entry.method !== 'string' || typeof entry.status !== 'number' || typeof entry.reqId !== 'string') return
    this.answered++
    if (entry.status >= 500 && entry.status !== 507) this.errors.push(`${entry.method} ${String(entry.url)} ${entry.status}`)
  }

  process(): ChildProcess {
    if (this.child === undefined) throw new Error(`replica-${this.index} was never started`)
    return this.child
  }

  requests(): number {
    return this.answered
  }

  serverErrors(): string[] {
    return [...this.errors]
  }

  death(): string | null {
    const child = this.child
    if (this.killing || child === undefined || (child.exitCode === null && child.signalCode === null)) return null
    return `replica-${this.index} exited (${child.exitCode ?? child.signalCode}):\n${this.output}`
  }

  async kill9(): Promise<void> {
    this.killing = true
    // Never started: the teardown after another replica failed to start.
    if (this.child === undefined) return
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }

  async restart(): Promise<void> {
    await this.kill9()
    await this.start()
  }
}

/**
 * Starts PostgreSQL's database (unless given), s3rver (unless the storage is a filesystem root),
 * `replicas` Packyard processes and nginx in front of them; `t.teardown` stops them all. The
 * first replica starts alone (it creates the schema), the others together.
 */
export async function startReplicas(t: Teardown, options: ReplicaSetOptions = {}): Promise<ReplicaSet> {
  requireProgram('htpasswd', 'apache2-utils')
  const count = options.replicas ?? 3
  const configDir = tempDir(t, 'packyard-replicas-')
  const admin = user('admin', 'admin-secret')
  const reader = user('reader', 'reader-secret')
  const htpasswd = join(configDir, 'htpasswd')
  // bcrypt cost 5: a few hundred logins cost milliseconds, not seconds, on every replica.
  const line = (u: User) => execFileSync('htpasswd', ['-Bbn', '-C', '5', u.user, u.password], { encoding: 'utf8' }).trim()
  writeFileSync(htpasswd, `${line(admin)}\n${line(reader)}\n`)

  const databaseUrl = options.databaseUrl ?? (await freshDatabase(t))
  const filesystem = options.storage === 'filesystem'
  const s3 = filesystem ? null : await startS3Server(t)
  const s3Prefix = s3 ? `replicas-${Date.now().toString(36)}` : null
  const root = filesystem ? join(configDir, 'root') : null
  if (s3 && s3Prefix) {
    // s3rver removes a folder of its store once a delete empties it, and crashes when another
    // request is writing into that folder at that moment (ENOENT, unhandled): replicas storing
    // and deleting upload objects side by side do exactly that. A file without s3rver's object
    // suffix keeps the folder and is not listed as an object.
    const uploads = join(s3.directory, S3_BUCKET, s3Prefix, 'uploads')
    mkdirSync(uploads, { recursive: true })
    writeFileSync(join(uploads, 'keep-this-folder'), '')
  }
  const base: Doc = {
    version: 0.1,
    log: { level: options.logLevel ?? 'info', formatter: 'json' },
    storage: {
      ...(s3
        ? { s3: { bucket: S3_BUCKET, region: 'us-east-1', regionendpoint: s3.endpoint, accesskey: S3_ACCESS_KEY, secretkey: S3_SECRET_KEY, rootdirectory: s3Prefix, chunksize: '5MiB' } }
        : { filesystem: { rootdirectory: root } }),
      delete: { enabled: true },
    },
    database: { url: databaseUrl, pool: 5 },
    // nginx is on loopback, as are the tests' direct requests: its X-Forwarded-For is believed.
    http: { draintimeout: '5s', trustedproxies: ['127.0.0.1'] },
    auth: { htpasswd: { realm: 'replicas', path: htpasswd }, access: { writers: [admin.user] } },
  }

  const replicas: ReplicaProcess[] = []
  for (let index = 1; index <= count; index++) {
    const dir = join(configDir, `replica-${index}`)
    mkdirSync(dir)
    const address = `127.0.0.1:${await freePort()}`
    // The same config but for the address and, with S3, the local data directory (database.path's
    // folder is the local root with S3 storage; the metadata itself is in PostgreSQL).
    const own: Doc = { http: { addr: address }, ...(s3 ? { database: { path: join(dir, 'data', 'registry.db') } } : {}) }
    const doc = merge(merge(base, own), options.config ?? {})
    const config = join(dir, 'config.yml')
    // JSON is YAML.
    writeFileSync(config, `${JSON.stringify(doc, null, 2)}\n`)
    const replica = new ReplicaProcess(index, address, dir, config)
    watchOwner({ owner: process.pid, pidFile: join(dir, 'packyard.pid'), signal: 'KILL', dir })
    t.teardown(() => replica.kill9())
    replicas.push(replica)
  }
  const [first, ...others] = replicas as [ReplicaProcess, ...ReplicaProcess[]]
  await first.start()
  await Promise.all(others.map((replica) => replica.start()))

  const nginx = await startNginx(
    t,
    replicas.map((replica) => replica.address),
    options.nginx ?? {},
  )
  return {
    url: nginx.url,
    host: `127.0.0.1:${nginx.port}`,
    nginx,
    replicas,
    configDir,
    htpasswd,
    admin,
    reader,
    databaseUrl,
    s3,
    s3Prefix,
    root,
    serverErrors: () => replicas.flatMap((replica) => replica.serverErrors().map((error) => `replica-${replica.index}: ${error}`)),
  }
}
