// Starts the registries, each on its own free loopback port and its own storage directory,
// all with the same bcrypt htpasswd file (Basic auth on every request, as operators run them):
// Packyard as `node bin/packyard.js serve` configured through REGISTRY_* variables, and the
// CNCF reference registry (`docker-registry`, distribution 2.8) from a YAML config. All log at
// warn and distribution's access log is off, so none pays for a log line per request. Every child is remembered so that the runner
// can kill it on any exit, and its last output is kept for the error message if it dies.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/paths.js'
import { type Endpoint, endpoint } from './http.js'

export type RegistryKind = 'packyard' | 'reference'

export interface Registry {
  kind: RegistryKind
  pid: number
  ep: Endpoint
  /** the directory the registry stores its data in */
  storage: string
  /** resident set now and its peak since the last resetPeak(), in MB (10^6 bytes) */
  memory(): { rssMb: number; peakMb: number }
  resetPeak(): void
  /** why the process is gone, with its last output, if it died */
  death(): string | null
  stop(): Promise<void>
  /** SIGKILL, as a crash would; resolves once the process is gone */
  kill(): Promise<void>
}

export interface Credentials {
  user: string
  password: string
  /** the htpasswd file holding them */
  htpasswd: string
}

export interface RegistryOptions {
  /** most sockets the bench opens to one registry at a time */
  maxSockets: number
  /** when set, Packyard runs under `node --cpu-prof` and writes its profile here on stop */
  cpuProfDir: string | null
}

const START_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 15_000
const OUTPUT_KEPT = 4096

const children = new Set<ChildProcess>()

/** For the runner's exit handler: whatever is still running dies with the bench. */
export function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL')
}

/** Fails with the install command when `name` is not on PATH. */
export function requireProgram(name: string, install: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
  } catch {
    throw new Error(`${name} is not installed; the bench needs it. Install it with: ${install}`)
  }
}

/** Fails with the install command when a program the bench drives is not on PATH. */
export function requirePrograms(needs: { reference: boolean }): void {
  if (needs.reference) requireProgram('docker-registry', 'sudo apt-get install docker-registry')
  requireProgram('htpasswd', 'sudo apt-get install apache2-utils')
}

/** A random password for user "bench" in `<dir>/htpasswd`, made by Apache's htpasswd -B as the Spectro and distribution docs make them. */
export function createCredentials(dir: string): Credentials {
  const user = 'bench'
  const password = randomBytes(12).toString('hex')
  const htpasswd = join(dir, 'htpasswd')
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }))
  return { user, password, htpasswd }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/**
 * The parent's environment without REGISTRY_* (both registries read those and would obey a stray
 * one) and without AWS_* (both AWS SDKs read AWS_CA_BUNDLE, AWS_PROFILE... from it: distribution
 * even panics at start-up on an AWS_CA_BUNDLE, "LoadCustomCABundleError").
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_') && !k.startsWith('AWS_')) env[k] = v
  return { ...env, ...extra }
}

function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.setTimeout(1000, () => req.destroy())
  })
}

function readMemory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`)
    return Number(match[1])
  }
  return { rssMb: (kb('VmRSS') * 1024) / 1e6, peakMb: (kb('VmHWM') * 1024) / 1e6 }
}

export interface Launch {
  kind: RegistryKind
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
  storage: string
  readyUrl: string
  readyStatus: number
  ep: Endpoint
}

export async function launch({ kind, command, args, env, storage, readyUrl, readyStatus, ep }: Launch): Promise<Registry> {
  const child = spawn(command, args, { cwd: storage, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  // A spawn failure is an 'error' event, not an exit; keep it for the start-up timeout message.
  child.on('error', (err) => keep(Buffer.from(`\n${String(err)}\n`)))
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      children.delete(child)
      resolve()
    }),
  )
  const gone = () => child.exitCode !== null || child.signalCode !== null
  const describeExit = () => `${kind} registry exited (code ${child.exitCode}, signal ${child.signalCode}); its last output:\n${output}`

  const deadline = Date.now() + START_TIMEOUT_MS
  while ((await statusOf(readyUrl)) !== readyStatus) {
    if (gone()) throw new Error(describeExit())
    if (Date.now() > deadline) throw new Error(`${kind} registry did not answer ${readyUrl} with ${readyStatus} within ${START_TIMEOUT_MS / 1000} s; its output:\n${output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const pid = child.pid as number
  let stopping = false
  return {
    kind,
    pid,
    ep,
    storage,
    memory: () => {
      if (gone()) throw new Error(describeExit())
      return readMemory(pid)
    },
    // Writing 5 to clear_refs resets VmHWM (Linux 4.0+), so a peak belongs to one scenario.
    resetPeak: () => writeFileSync(`/proc/${pid}/clear_refs`, '5'),
    // A registry stopped by the bench is not "dead": stopping marks it first.
    death: () => (gone() && !stopping ? describeExit() : null),
    stop: async () => {
      stopping = true
      if (gone()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
    kill: async () => {
      stopping = true
      if (gone()) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** A local S3 server: its endpoint, its account, and one bucket per registry that uses it. */
export interface S3Endpoint {
  endpoint: string
  accessKey: string
  secretKey: string
}

/**
 * s3rver (the npm package the tests use too) on a free loopback port, keeping its objects in
 * `root`, with the given buckets. OpenSSL's legacy provider: it signs ListObjectsV2 continuation
 * tokens with DES. Killed with the other children on any exit.
 */
export async function startS3rver(root: string, buckets: string[]): Promise<S3Endpoint & { stop: () => Promise<void> }> {
  mkdirSync(root, { recursive: true })
  const port = await freePort()
  const bin = join(PACKAGE_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js')
  const args = ['--openssl-legacy-provider', bin, '-d', root, '-a', '127.0.0.1', '-p', String(port), '-s', '--no-vhost-buckets', ...buckets.flatMap((b) => ['--configure-bucket', b])]
  const child = spawn(process.execPath, args, { env: cleanEnv({}), stdio: ['ignore', 'ignore', 'inherit'] })
  children.add(child)
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  child.on('exit', () => children.delete(child))
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + START_TIMEOUT_MS
  while ((await statusOf(`${endpoint}/`)) === 0) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`s3rver did not start on ${endpoint}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    endpoint,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** Packyard storing in `root`, or with its blobs in `s3.bucket` and its database in `root`. */
/** `extraEnv`: more REGISTRY_* settings (a scenario's own, such as notification endpoints). */
export async function startPackyard(root: string, credentials: Credentials, opts: RegistryOptions, s3?: S3Endpoint & { bucket: string }, extraEnv: Record<string, string> = {}): Promise<Registry> {
  mkdirSync(root, { recursive: true })
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const storage: Record<string, string> = s3
    ? {
        REGISTRY_STORAGE: 's3',
        REGISTRY_STORAGE_S3_BUCKET: s3.bucket,
        REGISTRY_STORAGE_S3_REGIONENDPOINT: s3.endpoint,
        REGISTRY_STORAGE_S3_ACCESSKEY: s3.accessKey,
        REGISTRY_STORAGE_S3_SECRETKEY: s3.secretKey,
        REGISTRY_DATABASE_PATH: join(root, 'registry.db'),
      }
    : { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root }
  const env = cleanEnv({
    REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
    ...storage,
    REGISTRY_AUTH_HTPASSWD_REALM: 'bench',
    REGISTRY_AUTH_HTPASSWD_PATH: credentials.htpasswd,
    REGISTRY_AUTH_ACCESS_WRITERS: credentials.user,
    REGISTRY_LOG_LEVEL: 'warn',
    ...extraEnv,
  })
  const profile = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []
  // The young-generation cap that bin/packyard.js's shebang and npm start give the server.
  const args = [...profile, '--max-semi-space-size=16', join(PACKAGE_ROOT, 'bin', 'packyard.js'), 'serve']
  const ep = endpoint('packyard', base, credentials.user, credentials.password, opts.maxSockets)
  return launch({ kind: 'packyard', command: process.execPath, args, env, storage: root, readyUrl: `${base}/health`, readyStatus: 200, ep })
}

/**
 * The reference registry with its config in `root` and its storage in `root`/data, or with its s3
 * driver on `s3.bucket` (regionendpoint at the local server, redirects off like Packyard's).
 */
export async function startReference(root: string, credentials: Credentials, opts: RegistryOptions, s3?: S3Endpoint & { bucket: string }): Promise<Registry> {
  const storage = join(root, 'data')
  mkdirSync(storage, { recursive: true })
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const config = join(root, 'config.yml')
  const driver = s3
    ? { s3: { region: 'us-east-1', regionendpoint: s3.endpoint, bucket: s3.bucket, accesskey: s3.accessKey, secretkey: s3.secretKey, secure: false, v4auth: true }, redirect: { disable: true } }
    : { filesystem: { rootdirectory: storage } }
  // JSON is YAML; http.secret is set only to keep distribution from warning that it made one up.
  const doc = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { ...driver, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
    auth: { htpasswd: { realm: 'bench', path: credentials.htpasswd } },
  }
  writeFileSync(config, JSON.stringify(doc, null, 2))
  const ep = endpoint('reference', base, credentials.user, credentials.password, opts.maxSockets)
  return launch({ kind: 'reference', command: 'docker-registry', args: ['serve', config], env: cleanEnv({}), storage, readyUrl: `${base}/v2/`, readyStatus: 401, ep })
}
