// The PostgreSQL test harness (test/postgres.ts): databases with password authentication over
// TCP, one per call and separate, dropped at teardown; a server stopped under a client and
// started again on the same port with its data; the run-wide server shared by the test files of
// one tap run; a server of its own for a test file run alone; and a missing PostgreSQL failing
// (under CI=true too), naming the package, never skipping.

import { spawn } from 'node:child_process'
import { existsSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Client } from 'pg'
import t from 'tap'
import { PACKAGE_ROOT } from '../src/paths.js'
import { freshDatabase, POSTGRES_LIB_VARIABLE, privatePostgres, restartPostgres, runDirectory, startPostgres, stopPostgres } from './postgres.js'
import { tempDir } from './system.js'

// Four servers (initdb takes seconds on a busy machine) and a whole tap run of its own.
t.setTimeout(5 * 60_000)

async function query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}

/** Runs node with `args` in `cwd` and `env`, without the variables tap gives this test file. */
function node(args: string[], env: NodeJS.ProcessEnv, cwd = PACKAGE_ROOT): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TAP') && !key.startsWith('_TAPJS')))
  const child = spawn(process.execPath, args, { cwd, env: { ...clean, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ pid: child.pid as number, code, stdout, stderr })))
}

t.test('a fresh database answers with the credentials in its URL, over TCP, and only with them', async (t) => {
  const url = await freshDatabase(t)
  const parsed = new URL(url)
  t.equal(parsed.protocol, 'postgres:')
  t.equal(parsed.hostname, '127.0.0.1')
  t.equal(parsed.username, 'packyard')
  t.ok(parsed.password.length >= 24, 'a generated password')
  t.match(parsed.pathname, /^\/test_[0-9a-f]{32}$/)
  t.same(await query(url, 'SELECT 1 AS one'), [{ one: 1 }])
  await t.rejects(query(withPassword(url, 'wrong'), 'SELECT 1'), /password authentication failed for user "packyard"/)
})

t.test('two fresh databases are separate, and each is dropped at teardown', async (t) => {
  let urls: string[] = []
  await t.test('two databases', async (t) => {
    urls = [await freshDatabase(t), await freshDatabase(t)]
    const [a, b] = urls as [string, string]
    t.not(a, b)
    await query(a, 'CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1)')
    t.same(await query(a, 'SELECT x FROM only_in_a'), [{ x: 1 }])
    await t.rejects(query(b, 'SELECT x FROM only_in_a'), /relation "only_in_a" does not exist/)
    // A connection the test leaves open does not keep its database from being dropped.
    const open = new Client({ connectionString: b })
    await open.connect()
    open.on('error', () => {})
  })
  const names = urls.map((url) => new URL(url).pathname.slice(1))
  const server = new URL(urls[0] as string)
  server.pathname = '/postgres'
  const left = await query<{ datname: string }>(server.toString(), 'SELECT datname FROM pg_database')
  t.same(
    left.map((row) => row.datname).filter((name) => names.includes(name)),
    [],
  )
})

t.test('a server stopped under a client (fast) starts again on the same port with its data', async (t) => {
  const server = await privatePostgres(t)
  const url = await freshDatabase(t, server)
  await query(url, 'CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)')
  const client = new Client({ connectionString: url })
  await client.connect()
  const lost = new Promise<Error>((resolve) => client.on('error', resolve))
  await stopPostgres(server, 'fast')
  t.match((await lost).message, /terminating connection due to administrator command/)
  await t.rejects(query(url, 'SELECT 1'), { code: 'ECONNREFUSED' })
  const port = server.port
  await restartPostgres(server)
  t.equal(server.port, port)
  t.same(await query(url, 'SELECT x FROM kept'), [{ x: 42 }])
})

/** Whether nothing listens on the loopback port any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}

t.test('the test files of one tap run share its server, stopped at the end; a file run alone starts and stops its own', async (t) => {
  // A tap run of its own, in a project of its own (so it leaves this run's .tap alone) with this
  // package's tap, before and after scripts, and two test files that print their database's port.
  const project = tempDir(t)
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(project, 'node_modules'))
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'postgres-harness-run',
      tap: {
        'disable-coverage': true,
        'allow-empty-coverage': true,
        jobs: 2,
        before: join(__dirname, 'postgres-before.js'),
        after: join(__dirname, 'postgres-after.js'),
      },
    }),
  )
  for (const name of ['a', 'b']) {
    writeFileSync(
      join(project, `${name}.test.js`),
      `const t = require('tap')
const { freshDatabase } = require(${JSON.stringify(join(__dirname, 'postgres.js'))})
t.test('database', async (t) => t.comment('PORT ' + new URL(await freshDatabase(t)).port))
`,
    )
  }
  const ports = (output: string) => [...output.matchAll(/# PORT (\d+)/g)].map((match) => Number(match[1]))

  const run = await node([join(project, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), '--reporter=tap', 'a.test.js', 'b.test.js'], {}, project)
  t.equal(run.code, 0, 'the tap run passes', { output: run.stdout + run.stderr })
  const started = /# PostgreSQL for this run on 127\.0\.0\.1:(\d+), started in \d+ ms/.exec(run.stdout + run.stderr)
  t.ok(started, 'the before script started the server')
  t.same(ports(run.stdout), [Number(started?.[1]), Number(started?.[1])], 'both files on the run\'s server')
  t.ok(await refused(Number(started?.[1])), 'the after script stopped it')
  t.notOk(existsSync(runDirectory(run.pid)), 'and removed its directory')

  const alone = await node([join(project, 'a.test.js')], {}, project)
  t.equal(alone.code, 0, 'so does the file alone', { output: alone.stdout + alone.stderr })
  const [port] = ports(alone.stdout)
  t.ok(port, 'a file run alone got a database')
  t.ok(await refused(Number(port)), 'on a server stopped when the file exited')
})

t.test('without PostgreSQL, starting one fails naming the package, under CI=true too', async (t) => {
  const missing = join(tempDir(t), 'no-postgresql-here')
  const previous = process.env[POSTGRES_LIB_VARIABLE]
  process.env[POSTGRES_LIB_VARIABLE] = missing
  t.teardown(() => {
    if (previous === undefined) delete process.env[POSTGRES_LIB_VARIABLE]
    else process.env[POSTGRES_LIB_VARIABLE] = previous
  })
  await t.rejects(startPostgres(tempDir(t)), { message: `PostgreSQL is not installed (no ${missing}/<version>/bin/initdb); .ci/run installs it (apt-get install postgresql)` })

  const alone = await node(
    ['-e', `require(${JSON.stringify(join(__dirname, 'postgres.js'))}).freshDatabase({ teardown() {} }).then(() => console.log('started'), (error) => { console.error(error.message); process.exitCode = 1 })`],
    { CI: 'true', [POSTGRES_LIB_VARIABLE]: missing },
  )
  t.equal(alone.code, 1)
  t.equal(alone.stdout, '')
  t.match(alone.stderr, /PostgreSQL is not installed .*apt-get install postgresql/)

  for (const [ci, code] of [['true', 1], ['', 0]] as const) {
    const before = await node([join(__dirname, 'postgres-before.js')], { CI: ci, [POSTGRES_LIB_VARIABLE]: missing })
    t.equal(before.code, code, `tap's before script with CI=${ci}`)
    t.match(before.stderr, /PostgreSQL for this run did not start: PostgreSQL is not installed .*apt-get install postgresql/)
  }
})
