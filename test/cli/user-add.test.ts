import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/load.js'
import { basic, requireProgram, runCliHere, tempDir } from '../helpers.js'

t.test('packyard user add writes an entry the server and Apache htpasswd accept', async (t) => {
  requireProgram('htpasswd')
  const dir = tempDir(t)
  const path = join(dir, 'auth', 'htpasswd')
  const add = await runCliHere(['user', 'add', 'ci-bot', '--password-stdin', '--htpasswd', path], { input: 's3cret-pass\n' })
  t.equal(add.code, 0, add.stderr)
  t.equal(add.stdout, `Added user ci-bot in ${path}\nNot recorded in the audit trail: ${path} is not the htpasswd file of the built-in configuration\n`)
  t.equal(statSync(path).mode & 0o777, 0o600)
  execFileSync('htpasswd', ['-vb', path, 'ci-bot', 's3cret-pass'], { stdio: 'pipe' })

  const config = loadConfig({ doc: { log: { level: 'silent' }, storage: 'inmemory', auth: { htpasswd: { path } } }, env: {} })
  const app = await buildApp(config)
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/v1/', headers: { authorization: basic('ci-bot', 's3cret-pass') } })
  t.equal(res.statusCode, 200)

  const update = await runCliHere(['user', 'add', 'ci-bot', '--password-stdin', '--htpasswd', path], { input: 'rotated' })
  t.match(update.stdout, `Updated user ci-bot in ${path}\nNot recorded in the audit trail: `)
  t.equal(readFileSync(path, 'utf8').split('\n').filter(Boolean).length, 1)
})

t.test('piped password without --password-stdin reads one line; mistakes are clear', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'htpasswd')
  const piped = await runCliHere(['user', 'add', 'alice', '--htpasswd', path], { input: 'line-one\nignored\n' })
  t.equal(piped.code, 0, piped.stderr)
  execFileSync('htpasswd', ['-vb', path, 'alice', 'line-one'], { stdio: 'pipe' })
  const bad = await runCliHere(['user', 'add', 'bad:name', '--password-stdin', '--htpasswd', path], { input: 'x' })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^Error: invalid user name "bad:name"/)
  const empty = await runCliHere(['user', 'add', 'bob', '--password-stdin', '--htpasswd', path], { input: '' })
  t.equal(empty.code, 1)
  t.match(empty.stderr, /password must not be empty/)
  const usage = await runCliHere(['user', 'add'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /Usage: packyard user add NAME/)
  const unknownFlag = await runCliHere(['user', 'add', 'x', '--pasword-stdin'])
  t.equal(unknownFlag.code, 2)
  t.match(unknownFlag.stderr, /^Error: unknown option "--pasword-stdin"; did you mean "--password-stdin"\?\n\nUsage: packyard user add NAME/)
})
