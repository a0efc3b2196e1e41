// Shared test helpers: a fresh config + temp dir + app per test (injected, or listening on a
// loopback port where a real client must talk to it), real htpasswd files made by Apache's
// htpasswd, the CLI run in this process through runCli, and a way to spawn the real `packyard`
// binary.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import type { FastifyBaseLogger, FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../src/app.js'
import { runCli } from '../src/cli/main.js'
import { type Config, loadConfig } from '../src/config/load.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { type Doc, merge, requireProgram, type Teardown, tempDir } from './system.js'

export const BIN = join(PACKAGE_ROOT, 'bin', 'packyard.js')

export { freePort, requireProgram, tempDir } from './system.js'

/** An htpasswd file made by Apache's own htpasswd -B, the way the Spectro docs make them. */
export function makeHtpasswd(dir: string, users: Record<string, string>): string {
  requireProgram('htpasswd', 'apache2-utils')
  const lines = Object.entries(users).map(([u, p]) => execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim())
  const path = join(dir, 'htpasswd')
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

export const USERS = { admin: 'admin-secret', reader: 'reader-secret' }

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

export const ADMIN = basic('admin', USERS.admin)
export const READER = basic('reader', USERS.reader)


/**
 * Set by test/http/s3-storage.test.ts for the suites it runs again: the endpoint of an S3 server
 * with bucket `packyard` (s3rver's account), which then stores the blobs of every testConfig
 * that names no storage of its own, each under a fresh key prefix.
 */
export const TEST_S3_ENDPOINT_VARIABLE = 'PACKYARD_TEST_S3_ENDPOINT'

/**
 * Set by test/postgres-matrix.test.ts for the suites it runs again: the URL of a PostgreSQL
 * server's `postgres` database as its superuser; every testConfig that names no database of its
 * own then keeps its metadata in a fresh database there (created with psql, synchronously, as
 * testConfig is).
 */
export const TEST_POSTGRES_VARIABLE = 'PACKYARD_TEST_POSTGRES'

function matrixDatabase(): Doc | null {
  const admin = process.env[TEST_POSTGRES_VARIABLE]
  if (!admin) return null
  const name = `matrix_${randomUUID().replaceAll('-', '')}`
  // An ICU collation that sorts 'V1' after 'a', as real databases' defaults do: every query whose
  // paging needs byte order must ask for it (the schema's COLLATE "C"), or the suites see it.
  const create = `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`
  execFileSync('psql', [admin, '-q', '-v', 'ON_ERROR_STOP=1', '-c', create], { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = new URL(admin)
  url.pathname = `/${name}`
  return { url: url.toString(), pool: 4 }
}

function defaultStorage(dir: string): Doc {
  const endpoint = process.env[TEST_S3_ENDPOINT_VARIABLE]
  if (!endpoint) return { storage: { filesystem: { rootdirectory: join(dir, 'data') } } }
  return {
    storage: { s3: { bucket: 'packyard', regionendpoint: endpoint, accesskey: 'S3RVER', secretkey: 'S3RVER', rootdirectory: `test-${randomUUID()}`, chunksize: '5MiB' } },
    database: { path: join(dir, 'data', 'registry.db') },
  }
}

/**
 * A config on filesystem storage in a fresh temp dir (S3 when the storage matrix says so), with
 * htpasswd auth (admin writer, reader read-only), or an open registry (`auth: none`) with
 * `auth: false`. `doc` is merged over it.
 */
export function testConfig(t: Teardown, doc: Doc = {}, opts: { auth?: boolean; storage?: 'filesystem' | 'inmemory' } = {}): Config {
  const dir = tempDir(t)
  const docStorage = (doc.storage ?? {}) as Doc
  const driverGiven = ['filesystem', 'inmemory', 's3'].some((driver) => driver in docStorage)
  const base: Doc = {
    log: { level: 'silent' },
    ...(driverGiven ? {} : opts.storage === 'inmemory' ? { storage: { inmemory: {} } } : opts.storage === 'filesystem' ? { storage: { filesystem: { rootdirectory: join(dir, 'data') } } } : defaultStorage(dir)),
  }
  const postgres = 'database' in doc ? null : matrixDatabase()
  if (postgres) base.database = { ...((base.database as Doc | undefined) ?? {}), ...postgres }
  base.auth = opts.auth === false ? { none: {} } : { htpasswd: { realm: 'test-realm', path: makeHtpasswd(dir, USERS) } }
  return loadConfig({ doc: merge(base, doc), env: {} })
}

export async function testApp(
  t: Teardown,
  doc: Doc = {},
  opts: { auth?: boolean; storage?: 'filesystem' | 'inmemory'; logger?: FastifyBaseLogger } = {},
): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(t, doc, opts), opts.logger ? { logger: opts.logger } : {})
  t.teardown(() => app.close())
  return refuse5xx(app)
}

/**
 * testApp listening on an ephemeral loopback port, for the tests where a real client talks to it
 * (the CLI, raw sockets). A 5xx answered to any request fails the test, as with inject.
 */
export async function listeningApp(
  t: Teardown,
  doc: Doc = {},
  opts: { auth?: boolean; storage?: 'filesystem' | 'inmemory' } = {},
): Promise<{ app: FastifyInstance; server: string; requests: string[] }> {
  const app = await testApp(t, doc, opts)
  const requests: string[] = []
  const failures: string[] = []
  app.server.on('request', (req, res) => {
    requests.push(`${req.method} ${req.url}`)
    res.on('finish', () => {
      if (res.statusCode >= 500 && res.statusCode !== 507) failures.push(`${req.method} ${req.url} answered ${res.statusCode}`)
    })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => {
    if (failures.length > 0) throw new Error(failures.join('\n'))
  })
  return { app, server: `127.0.0.1:${(app.server.address() as AddressInfo).port}`, requests }
}

/** A stream that keeps what is written to it; `tty` makes it look like a terminal that wide. */
export function captureStream(tty?: { columns: number }): Writable & { text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8')
      callback()
    },
  })
  if (tty) Object.assign(stream, { isTTY: true, columns: tty.columns })
  return Object.assign(stream, { text: () => text })
}

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI in this process (runCli, what bin/packyard.js calls), with `input` as its stdin. */
export async function runCliHere(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; stderrTty?: { columns: number } } = {}): Promise<CliRun> {
  const stdout = captureStream()
  const stderr = captureStream(options.stderrTty)
  const stdin = Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)], { objectMode: false })
  const code = await runCli(args, { stdout, stderr, stdin, env: options.env ?? {} })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

/**
 * No request in the test suite may produce a 5xx: every inject through testApp checks it. The
 * one exception is 507, the deliberate answer to a write when the storage is full.
 */
function refuse5xx(app: FastifyInstance): FastifyInstance {
  const inject = app.inject.bind(app) as (opts: InjectOptions) => Promise<LightMyRequestResponse>
  const checked = async (opts: InjectOptions) => {
    const res = await inject(opts)
    if (res.statusCode >= 500 && res.statusCode !== 507) throw new Error(`${opts.method ?? 'GET'} ${opts.url} answered ${res.statusCode}: ${res.body}`)
    return res
  }
  ;(app as unknown as { inject: typeof checked }).inject = checked
  return app
}

export interface Spawned {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

export function spawnBin(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Spawned {
  // With the V8 flag of bin/packyard.js's shebang, so the server runs as users run it.
  const child = spawn(process.execPath, ['--max-semi-space-size=16', BIN, ...args], {
    cwd: options.cwd ?? PACKAGE_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
  if (options.input !== undefined) child.stdin?.end(options.input)
  else child.stdin?.end()
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Runs the binary to completion. */
export async function runBin(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}) {
  const p = spawnBin(args, options)
  const code = await p.exited
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

/** Whether a JSON log line is a request's (one per request, with its method and status). */
export function isRequestLine(line: Record<string, unknown>): boolean {
  return typeof line.method === 'string' && typeof line.status === 'number' && typeof line.reqId === 'string'
}

/** Starts `packyard serve` and resolves once its "listening on" log line names the address. */
export async function startServer(t: Teardown, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Spawned & { url: string; logs: () => Array<Record<string, unknown>> }> {
  const p = spawnBin(['serve', ...args], { env, ...(cwd ? { cwd } : {}) })
  t.teardown(async () => {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      await p.exited
    }
  })
  const logs = () =>
    p
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  const deadline = Date.now() + 15_000
  for (;;) {
    const line = logs().find((l) => String(l.msg).startsWith('listening on '))
    if (line) return { ...p, url: String(line.address), logs }
    if (p.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`server did not start (exit ${p.child.exitCode}):\n${p.stdout()}\n${p.stderr()}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
