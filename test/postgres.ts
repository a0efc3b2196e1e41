// A real PostgreSQL server for the tests, from Debian's `postgresql` package: initdb and pg_ctl
// from the newest /usr/lib/postgresql/<version>/bin, a temp data directory, a free loopback port
// with password (scram) authentication, the Unix socket in the temp directory, fsync off (on, as
// PostgreSQL ships it, with `durable`: the benchmark's and the chaos campaign's server).
//
// One server serves a whole test run: tap's `before` script (test/postgres-before.ts, named in
// package.json) starts it and records it in a directory named after the tap runner's pid, which
// every test process finds through its parent pid; tap's `after` script (test/postgres-after.ts)
// stops it. freshDatabase gives each test file its own database on it. A test file run on its
// own (`node dist/test/x.test.js`) starts a server for its process instead and stops it at exit.
// Tests that stop PostgreSQL under load take a server of their own (privatePostgres).
// `tls: true` gives a server with ssl=on, its certificate (for 127.0.0.1 and localhost) signed by
// a throwaway CA made with openssl in its directory, which also signs a client certificate.
// A missing PostgreSQL fails, naming the package; it is never skipped.

import { execFile, execFileSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Client } from 'pg'
import { freePort, type Teardown, tempDir } from './system.js'
import { watchOwner } from './watchdog.js'

const execFileAsync = promisify(execFile)

/** Where the installed versions are looked for (`<this>/<version>/bin/initdb`); tests point it elsewhere. */
export const POSTGRES_LIB_VARIABLE = 'PACKYARD_TEST_POSTGRES_LIB'
const DEFAULT_POSTGRES_LIB = '/usr/lib/postgresql'

/** The superuser initdb creates; the tests connect as it, with the password in the URL. */
const SUPERUSER = 'packyard'

export interface PostgresServer {
  dir: string
  bin: string
  port: number
  password: string
  /** False between stopPostgres and restartPostgres. */
  running: boolean
  /** With `tls: true`: the throwaway CA, and a client certificate and key it signed (PEM files). */
  tls?: { ca: string; clientCert: string; clientKey: string }
}

/** The bin directory of the newest installed PostgreSQL, or an error naming the package to install. */
export function postgresBinaries(): string {
  const lib = process.env[POSTGRES_LIB_VARIABLE] || DEFAULT_POSTGRES_LIB
  const versions = (existsSync(lib) ? readdirSync(lib) : [])
    .filter((version) => existsSync(join(lib, version, 'bin', 'initdb')) && existsSync(join(lib, version, 'bin', 'pg_ctl')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
  const newest = versions[0]
  if (newest === undefined) {
    throw new Error(`PostgreSQL is not installed (no ${lib}/<version>/bin/initdb); .ci/run installs it (apt-get install postgresql)`)
  }
  return join(lib, newest, 'bin')
}

/**
 * initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user that Debian's
 * package creates, on directories it owns.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  if (postgresUser) return postgresUser
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
    postgresUser = { uid: id('-u'), gid: id('-g') }
    return postgresUser
  } catch {
    throw new Error('the postgres user does not exist; .ci/run creates it (apt-get install postgresql)')
  }
}

let postgresUser: { uid: number; gid: number } | undefined

/** The environment for PostgreSQL's programs, without PG* variables that would redirect them. */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C' }
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG') && key !== 'LC_ALL') env[key] = value
  }
  return env
}

function toolOptions(server: Pick<PostgresServer, 'dir'>) {
  return { ...serverUser(), cwd: server.dir, env: toolEnv(), encoding: 'utf8' as const }
}

async function runTool(server: Pick<PostgresServer, 'dir' | 'bin'>, tool: string, args: string[], what: string): Promise<void> {
  try {
    await execFileAsync(join(server.bin, tool), args, toolOptions(server))
  } catch (error) {
    const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string }
    const log = join(server.dir, 'log')
    const tail = existsSync(log) ? `\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}` : ''
    throw new Error(`${what} failed: ${(stderr || stdout || message).trim()}${tail}`)
  }
}

const dataDir = (server: Pick<PostgresServer, 'dir'>) => join(server.dir, 'data')

/**
 * Creates a cluster in `dir` (empty, its parents traversable by the postgres user) and starts it
 * on a free loopback port. `owner` is the process whose death, if nobody stopped the server,
 * stops it and removes `dir` (see test/watchdog.ts).
 */
/**
 * `acknowledgedDurable`: commits are acknowledged only once in the WAL (PostgreSQL's default),
 * for tests that crash the server and count what survived; the others skip it for speed.
 * `durable`: PostgreSQL's own durability settings, untouched (fsync, full page writes, synchronous
 * commit), as a real server runs: for the benchmark and the chaos campaign, whose figures must be
 * those of a real deployment.
 */
export async function startPostgres(dir: string, options: { owner?: number; tls?: boolean; acknowledgedDurable?: boolean; durable?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinaries()
  const user = serverUser()
  const server: PostgresServer = { dir, bin, port: await freePort(), password: randomBytes(18).toString('hex'), running: false }
  const passwordFile = join(dir, 'password')
  writeFileSync(passwordFile, `${server.password}\n`, { mode: 0o600 })
  if (user) {
    chownSync(dir, user.uid, user.gid)
    chownSync(passwordFile, user.uid, user.gid)
  }
  await runTool(
    server,
    'initdb',
    ['-D', dataDir(server), '-U', SUPERUSER, `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync'],
    'initdb',
  )
  rmSync(passwordFile)
  appendFileSync(
    join(dataDir(server), 'postgresql.conf'),
    [
      `port = ${server.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      // Durability is not under test here, speed is: never on a real server.
      ...(options.durable ? [] : ['fsync = off', 'full_page_writes = off']),
      ...(options.durable || options.acknowledgedDurable ? [] : ['synchronous_commit = off']),
      // Two test files at once, each with several apps holding a pool of connections.
      'max_connections = 200',
      ...(options.tls ? tlsSettings(server, user) : []),
      '',
    ].join('\n'),
  )
  watchOwner({ owner: options.owner ?? process.pid, pidFile: join(dataDir(server), 'postmaster.pid'), signal: 'QUIT', dir })
  await restartPostgres(server)
  return server
}

/**
 * A throwaway CA in `server.dir/tls`, a server certificate for 127.0.0.1 and localhost and a client
 * certificate (CN packyard) it signed; the server's postgresql.conf lines to use them (plain
 * connections stay allowed). The CA also checks the client certificates the server asks for.
 */
function tlsSettings(server: PostgresServer, user: { uid: number; gid: number } | undefined): string[] {
  const dir = join(server.dir, 'tls')
  mkdirSync(dir)
  const file = (name: string) => join(dir, name)
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(['req', '-x509', ...key, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=packyard test CA'])
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  for (const [name, cn, ext] of [['server', 'localhost', ['-extfile', file('server.ext')]], ['client', SUPERUSER, []]] as const) {
    openssl(['req', ...key, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`])
    openssl(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-out', file(`${name}.pem`), ...ext])
  }
  // The server refuses a key readable by others, or (as root's postgres) one it does not own.
  for (const name of ['server.key', 'client.key']) chmodSync(file(name), 0o600)
  if (user) for (const name of readdirSync(dir)) chownSync(file(name), user.uid, user.gid)
  if (user) chownSync(dir, user.uid, user.gid)
  server.tls = { ca: file('ca.pem'), clientCert: file('client.pem'), clientKey: file('client.key') }
  return ['ssl = on', `ssl_cert_file = '${file('server.pem')}'`, `ssl_key_file = '${file('server.key')}'`, `ssl_ca_file = '${file('ca.pem')}'`]
}

/**
 * Stops the server: `immediate` (the default) at once, `fast` the way an operator does (clients
 * are disconnected, a checkpoint is written). restartPostgres starts it again.
 */
export async function stopPostgres(server: PostgresServer, mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
  await runTool(server, 'pg_ctl', ['-D', dataDir(server), '-m', mode, '-w', 'stop'], 'pg_ctl stop')
  server.running = false
}

/** Starts a stopped server again, on the same data directory and port. */
export async function restartPostgres(server: PostgresServer): Promise<void> {
  await runTool(server, 'pg_ctl', ['-D', dataDir(server), '-l', join(server.dir, 'log'), '-w', 'start'], 'pg_ctl start')
  server.running = true
}

/** A server of the test's own, stopped and removed at teardown: for tests that stop it. */
export async function privatePostgres(t: Teardown, options: { tls?: boolean; acknowledgedDurable?: boolean } = {}): Promise<PostgresServer> {
  const server = await startPostgres(tempDir(t, 'packyard-postgres-'), options)
  t.teardown(async () => {
    if (server.running) await stopPostgres(server)
  })
  return server
}

/** The URL of `database` on `server`, with the superuser's credentials, over TCP. */
export function postgresUrl(server: PostgresServer, database = 'postgres'): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/${encodeURIComponent(database)}`
}

async function asSuperuser(server: PostgresServer, sql: string): Promise<void> {
  const client = new Client({ connectionString: postgresUrl(server) })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/**
 * A new, empty database on the test run's server (or on `server`), dropped at teardown; returns
 * its URL (`postgres://packyard:SECRET@127.0.0.1:PORT/test_...`).
 */
export async function freshDatabase(t: Teardown, server?: PostgresServer): Promise<string> {
  const on = server ?? (await runServer())
  const name = `test_${randomUUID().replaceAll('-', '')}`
  await asSuperuser(on, `CREATE DATABASE ${name}`)
  t.teardown(async () => {
    // FORCE: connections a failed test left open must not keep the database alive.
    if (on.running) await asSuperuser(on, `DROP DATABASE ${name} WITH (FORCE)`)
  })
  return postgresUrl(on, name)
}

/** The directory of the server of the tap run whose runner has pid `runner`. */
export function runDirectory(runner: number): string {
  return join(tmpdir(), `packyard-test-postgres-run-${runner}`)
}

const runStateFile = (runner: number) => join(runDirectory(runner), 'server.json')

/** tap's `before`: starts the run's server, owned by the runner (this script's parent). */
export async function startRunPostgres(runner: number): Promise<PostgresServer> {
  const dir = runDirectory(runner)
  // Only a second before script under the same parent finds one (run by hand from one shell).
  await stopRunPostgres(runner)
  mkdirSync(dir, { mode: 0o700 })
  try {
    const server = await startPostgres(dir, { owner: runner })
    writeFileSync(runStateFile(runner), JSON.stringify(server), { mode: 0o600 })
    return server
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/** tap's `after`: stops the run's server, if it runs, and removes its directory. */
export async function stopRunPostgres(runner: number): Promise<void> {
  const state = runStateFile(runner)
  if (existsSync(state)) {
    const server = JSON.parse(readFileSync(state, 'utf8')) as PostgresServer
    if (existsSync(join(dataDir(server), 'postmaster.pid'))) await stopPostgres(server)
  }
  rmSync(runDirectory(runner), { recursive: true, force: true })
}

let runWide: Promise<PostgresServer> | undefined

/**
 * The server of this tap run, when tap's `before` started one; otherwise one for this process
 * alone, stopped when it exits.
 */
function runServer(): Promise<PostgresServer> {
  runWide ??= (async () => {
    const state = runStateFile(process.ppid)
    if (process.env.TAP_BEFORE && existsSync(state)) return JSON.parse(readFileSync(state, 'utf8')) as PostgresServer
    const dir = mkdtempSync(join(tmpdir(), 'packyard-postgres-'))
    const server = await startPostgres(dir).catch((error: Error) => {
      rmSync(dir, { recursive: true, force: true })
      throw error
    })
    process.on('exit', () => {
      if (server.running) execFileSync(join(server.bin, 'pg_ctl'), ['-D', dataDir(server), '-m', 'immediate', '-w', 'stop'], { ...toolOptions(server), stdio: 'ignore' })
      rmSync(dir, { recursive: true, force: true })
    })
    return server
  })()
  return runWide
}
