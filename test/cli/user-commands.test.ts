// packyard user ls / delete / add --writer, run in process through runCli against real files:
// htpasswd files made by Apache's htpasswd, the example config copied and edited, and the
// server (buildApp) that reads them. Also when the initial admin password is deleted.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/load.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { basic, captureStream, makeHtpasswd, requireProgram, runCliHere, tempDir, USERS } from '../helpers.js'

/** config.example.yaml with its root in a temp folder; the htpasswd is then <root>/htpasswd. */
function exampleConfig(dir: string): { file: string; text: string; root: string } {
  const root = join(dir, 'data')
  const text = readFileSync(join(PACKAGE_ROOT, 'config.example.yaml'), 'utf8').replace('rootdirectory: ./data', `rootdirectory: ${root}`)
  const file = join(dir, 'config.yml')
  writeFileSync(file, text)
  return { file, text, root }
}

t.test('user ls: every user with its access, as a table or JSON; skipped lines are warned about', async (t) => {
  const dir = tempDir(t)
  const htpasswd = makeHtpasswd(dir, { ...USERS, 'ci-bot': 'x' })
  const config = join(dir, 'config.yml')
  writeFileSync(config, `storage:\n  filesystem:\n    rootdirectory: ${dir}/data\nauth:\n  htpasswd:\n    path: ${htpasswd}\n  access:\n    writers: [admin, ci-bot]\n`)
  const ls = await runCliHere(['user', 'ls', '--config', config])
  t.equal(ls.code, 0, ls.stderr)
  t.equal(ls.stdout, 'NAME    ACCESS\nadmin   read-write\nci-bot  read-write\nreader  read-only\n')
  const json = await runCliHere(['user', 'ls', '--config', config, '--output', 'json'])
  t.same(JSON.parse(json.stdout), { users: [{ name: 'admin', writer: true }, { name: 'ci-bot', writer: true }, { name: 'reader', writer: false }] })

  writeFileSync(htpasswd, `${readFileSync(htpasswd, 'utf8')}old:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`)
  const warned = await runCliHere(['user', 'ls', '--htpasswd', htpasswd, '--config', config])
  t.equal(warned.code, 0)
  t.match(warned.stderr, /^Warning: .*htpasswd: line 4 \(old\): not a bcrypt hash/)
  t.notMatch(warned.stdout, /old/)

  const missing = await runCliHere(['user', 'ls', '--htpasswd', join(dir, 'nothing')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /nothing does not exist yet \(the server creates it with user admin on its first start/)
  t.equal((await runCliHere(['user', 'ls', 'extra'])).code, 2)
})

t.test('user delete: the entry goes (the server refuses it within a second), other lines stay', async (t) => {
  const dir = tempDir(t)
  const htpasswd = makeHtpasswd(dir, USERS)
  const adminLine = readFileSync(htpasswd, 'utf8').split('\n')[0]
  const config = loadConfig({ doc: { log: { level: 'silent' }, storage: 'inmemory', auth: { htpasswd: { path: htpasswd } } }, env: {} })
  const app = await buildApp(config)
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/v1/', headers: { authorization: basic('reader', USERS.reader) } })).statusCode, 200)

  const del = await runCliHere(['user', 'delete', 'reader', '--htpasswd', htpasswd])
  t.equal(del.code, 0, del.stderr)
  t.equal(del.stdout, `Deleted user reader from ${htpasswd}\nNot recorded in the audit trail: ${htpasswd} is not the htpasswd file of the built-in configuration\n`)
  t.equal(readFileSync(htpasswd, 'utf8'), `${adminLine}\n`, 'admin kept byte for byte')
  t.equal(statSync(htpasswd).mode & 0o777, 0o600)
  await new Promise((r) => setTimeout(r, 1100))
  t.equal((await app.inject({ url: '/v1/', headers: { authorization: basic('reader', USERS.reader) } })).statusCode, 401)

  const again = await runCliHere(['user', 'delete', 'reader', '--htpasswd', htpasswd])
  t.equal(again.code, 1)
  t.equal(again.stderr, `Error: there is no user "reader" in ${htpasswd}\n`)
  const writer = await runCliHere(['user', 'delete', 'admin', '--htpasswd', htpasswd])
  t.equal(writer.code, 0)
  t.match(writer.stdout, /admin is still listed in auth\.access\.writers \(the built-in default\); remove it there/)
  t.equal(readFileSync(htpasswd, 'utf8'), '')
})

t.test('user add --writer edits auth.access.writers in the config file and nothing else', async (t) => {
  const dir = tempDir(t)
  const { file, text } = exampleConfig(dir)
  chmodSync(file, 0o640)
  const add = await runCliHere(['user', 'add', 'ci-bot', '--writer', '--password-stdin', '--config', file], { input: 'ci-secret' })
  t.equal(add.code, 0, add.stderr)
  t.match(add.stdout, `Added user ci-bot in ${join(dir, 'data', 'htpasswd')}\nAdded ci-bot to auth.access.writers in ${file} (now admin, ci-bot); a server started with it applies it within seconds\n`)
  t.equal(readFileSync(file, 'utf8'), text.replace('    writers: [admin]\n', '    writers: [admin, ci-bot]\n'), 'one line changed, comments and layout kept')
  t.equal(statSync(file).mode & 0o777, 0o640, 'mode kept')

  const config = loadConfig({ file, env: {} })
  t.same(config.auth?.writers, ['admin', 'ci-bot'])
  const app = await buildApp(loadConfig({ file, env: { REGISTRY_LOG_LEVEL: 'silent' } }))
  t.teardown(() => app.close())
  const login = await app.inject({ url: '/v1/', headers: { authorization: basic('ci-bot', 'ci-secret') } })
  t.same(login.json(), { user: 'ci-bot', canPush: true }, 'the restarted server lets it push')

  const again = await runCliHere(['user', 'add', 'ci-bot', '--writer', '--password-stdin', '--config', file], { input: 'rotated' })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /Updated user ci-bot .*\nci-bot already is in auth\.access\.writers\n/)

  const block = join(dir, 'block.yml')
  const blockText = `# the registry\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/block-data\nauth:\n  htpasswd:\n    realm: basic-realm\n  access:\n    writers:\n      - admin # the first one\n`
  writeFileSync(block, blockText)
  const blockAdd = await runCliHere(['user', 'add', 'release', '--writer', '--password-stdin', '--config', block], { input: 'pw' })
  t.equal(blockAdd.code, 0, blockAdd.stderr)
  t.equal(readFileSync(block, 'utf8'), `${blockText}      - release\n`)

  const noAccess = join(dir, 'spectro.yml')
  const spectroText = `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/spectro-data\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: ${dir}/htpasswd-basic\n`
  writeFileSync(noAccess, spectroText)
  const added = await runCliHere(['user', 'add', 'ops', '--writer', '--password-stdin', '--config', noAccess], { input: 'pw' })
  t.equal(added.code, 0, added.stderr)
  t.equal(readFileSync(noAccess, 'utf8'), `${spectroText}  access:\n    writers: [admin, ops]\n`, 'the default writers are kept')
})

t.test('user add --writer refuses, changing nothing, when the config cannot be edited safely, and says what to change', async (t) => {
  const dir = tempDir(t)
  const htpasswd = join(dir, 'htpasswd')
  const refused = async (args: string[], env: NodeJS.ProcessEnv, expected: RegExp) => {
    const run = await runCliHere(['user', 'add', 'bob', '--writer', '--password-stdin', '--htpasswd', htpasswd, ...args], { input: 'pw', env })
    t.equal(run.code, 1, args.join(' '))
    t.match(run.stderr, /^Error: cannot make bob a writer, so nothing was changed: /)
    t.match(run.stderr, expected)
    t.notOk(existsSync(htpasswd), 'no user was added')
  }
  if (!existsSync('/etc/spectro/config.yml')) {
    await refused([], {}, /there is no config file \(the built-in defaults are in use\).*\nauth:\n {2}access:\n {4}writers: \[admin, bob\]\nor with REGISTRY_AUTH_ACCESS_WRITERS=admin,bob/s)
  }
  const { file, text } = exampleConfig(dir)
  await refused(['--config', file], { REGISTRY_AUTH_ACCESS_WRITERS: 'admin,ci' }, /REGISTRY_AUTH_ACCESS_WRITERS overrides .*set REGISTRY_AUTH_ACCESS_WRITERS=admin,ci,bob /)

  const linked = join(dir, 'linked.yml')
  symlinkSync(file, linked)
  await refused(['--config', linked], {}, /linked\.yml is a symbolic link \(a mounted ConfigMap or secret\?\).*\n {4}writers: \[admin, bob\]\n\(a server started with it applies that within seconds\)/s)

  const aligned = join(dir, 'aligned.yml')
  const alignedText = `storage:\n  filesystem:\n    rootdirectory: ${dir}/d   # aligned\nauth:\n  htpasswd:\n    realm: r         # comments\n`
  writeFileSync(aligned, alignedText)
  await refused(['--config', aligned], {}, /writing .*aligned\.yml back would change its layout/)
  t.equal(readFileSync(aligned, 'utf8'), alignedText)

  const readOnly = join(dir, 'ro')
  execFileSync('mkdir', ['-p', readOnly])
  const roFile = join(readOnly, 'config.yml')
  writeFileSync(roFile, text)
  chmodSync(readOnly, 0o555)
  t.teardown(() => chmodSync(readOnly, 0o755))
  if (process.getuid?.() !== 0) await refused(['--config', roFile], {}, /cannot be written from here/)
  t.equal(readFileSync(file, 'utf8'), text, 'the config is untouched')
})

t.test('the initial admin password is deleted once admin\'s password changes: by the server, on reload', async (t) => {
  requireProgram('htpasswd')
  const dir = tempDir(t)
  const { file, root } = exampleConfig(dir)
  const log = captureStream()
  const app = await buildApp(loadConfig({ file, env: {} }), { logger: pino({ level: 'info' }, log) })
  t.teardown(() => app.close())
  const htpasswd = join(root, 'htpasswd')
  const initial = join(root, 'initial-admin-password')
  const password = readFileSync(initial, 'utf8').trim()
  t.equal((await app.inject({ url: '/v1/', headers: { authorization: basic('admin', password) } })).statusCode, 200)
  await new Promise((r) => setTimeout(r, 300))
  t.ok(existsSync(initial), 'kept while it works')

  execFileSync('htpasswd', ['-bB', htpasswd, 'admin', 'a-new-password'], { stdio: 'pipe' })
  await new Promise((r) => setTimeout(r, 1100))
  t.equal((await app.inject({ url: '/v1/', headers: { authorization: basic('admin', 'a-new-password') } })).statusCode, 200)
  for (let i = 0; i < 50 && existsSync(initial); i++) await new Promise((r) => setTimeout(r, 50))
  t.notOk(existsSync(initial), 'deleted')
  const line = log
    .text()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; level: number })
    .find((l) => l.msg.startsWith(`removed ${initial}`))
  t.equal(line?.msg, `removed ${initial}: the admin password was changed, so the initial password no longer works`)
})

t.test('the initial admin password is deleted once admin\'s password changes: by user add admin on the same root', async (t) => {
  const dir = tempDir(t)
  const { file, root } = exampleConfig(dir)
  const app = await buildApp(loadConfig({ file, env: { REGISTRY_LOG_LEVEL: 'silent' } }))
  await app.close()
  const initial = join(root, 'initial-admin-password')
  t.ok(existsSync(initial))

  const other = await runCliHere(['user', 'add', 'reader', '--password-stdin', '--config', file], { input: 'pw' })
  t.equal(other.code, 0, other.stderr)
  t.ok(existsSync(initial), 'another user changes nothing')
  const elsewhere = await runCliHere(['user', 'add', 'admin', '--password-stdin', '--config', file, '--htpasswd', join(dir, 'other-htpasswd')], { input: 'pw' })
  t.equal(elsewhere.code, 0, elsewhere.stderr)
  t.ok(existsSync(initial), 'admin of another file changes nothing')

  const admin = await runCliHere(['user', 'add', 'admin', '--password-stdin', '--config', file], { input: 'the-new-one' })
  t.equal(admin.code, 0, admin.stderr)
  t.equal(admin.stdout, `Updated user admin in ${join(root, 'htpasswd')}\nRemoved ${initial}: the initial admin password no longer works\n`)
  t.notOk(existsSync(initial))
})

/** The events of the registry at `root`'s database, as GET /v1/_events shows them to admin. */
async function userEvents(app: FastifyInstance, root: string): Promise<Array<{ action: string; user: string; repository: string | null; detail: Record<string, unknown> | null; replica: string | null }>> {
  const password = readFileSync(join(root, 'initial-admin-password'), 'utf8').trim()
  const res = await app.inject({ url: '/v1/_events', headers: { authorization: basic('admin', password) } })
  if (res.statusCode !== 200) throw new Error(`/v1/_events answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { events: Array<{ action: string; user: string; repository: string | null; detail: Record<string, unknown> | null; replica: string | null }> }).events.filter((e) => e.action.startsWith('user.'))
}

t.test('user add and delete are in the audit trail, by the operating-system user who ran them', async (t) => {
  const dir = tempDir(t)
  const { file, root } = exampleConfig(dir)
  const app = await buildApp(loadConfig({ file, env: { REGISTRY_LOG_LEVEL: 'silent' } }))
  t.teardown(() => app.close())
  const me = userInfo().username

  const add = await runCliHere(['user', 'add', 'ci-bot', '--password-stdin', '--config', file], { input: 'one' })
  t.equal(add.code, 0, add.stderr)
  t.equal(add.stdout, `Added user ci-bot in ${join(root, 'htpasswd')}\n`, 'recorded without a word')
  t.equal((await runCliHere(['user', 'add', 'ci-bot', '--writer', '--password-stdin', '--config', file], { input: 'two' })).code, 0)
  const del = await runCliHere(['user', 'delete', 'ci-bot', '--config', file])
  t.equal(del.code, 0, del.stderr)
  const events = await userEvents(app, root)
  t.same(
    events.map((e) => [e.action, e.user, e.repository, e.detail]),
    [
      ['user.add', me, null, { user: 'ci-bot', outcome: 'added', writer: false }],
      ['user.add', me, null, { user: 'ci-bot', outcome: 'updated', writer: true }],
      ['user.delete', me, null, { user: 'ci-bot' }],
    ],
  )
  t.same(events.map((e) => e.replica), [null, null, null], 'a command is no replica: its events name none')
  const { eventRows } = await import('../../src/cli/commands/events.js')
  const details = eventRows((await app.inject({ url: '/v1/_events', headers: { authorization: basic('admin', readFileSync(join(root, 'initial-admin-password'), 'utf8').trim()) } })).json().events).map((row) => row.slice(1, 3).concat(row[7] ?? ''))
  t.same(details.filter((row) => String(row[1]).startsWith('user.')), [
    [me, 'user.add', 'added ci-bot'],
    [me, 'user.add', 'new password for ci-bot (writer)'],
    [me, 'user.delete', 'deleted ci-bot'],
  ], 'packyard events says what changed')
})

t.test('a user change that cannot be recorded is still made, and the output says why', async (t) => {
  const dir = tempDir(t)
  const { file, root } = exampleConfig(dir)
  // No server has run on this root yet: no database.
  const add = await runCliHere(['user', 'add', 'ops', '--password-stdin', '--config', file], { input: 'pw' })
  t.equal(add.code, 0, add.stderr)
  t.equal(add.stdout, `Added user ops in ${join(root, 'htpasswd')}\nNot recorded in the audit trail: there is no registry database at ${join(root, 'registry.db')} yet (the server creates it when it first starts)\n`)
  t.notOk(existsSync(join(root, 'registry.db')), 'no database made by the command')
  t.equal((await runCliHere(['user', 'ls', '--config', file])).stdout, 'NAME  ACCESS\nops   read-only\n')

  const memory = join(dir, 'memory.yml')
  writeFileSync(memory, `storage: inmemory\nauth:\n  htpasswd:\n    path: ${join(dir, 'memory-htpasswd')}\n`)
  const inMemory = await runCliHere(['user', 'add', 'ops', '--password-stdin', '--config', memory], { input: 'pw' })
  t.equal(inMemory.code, 0, inMemory.stderr)
  t.match(inMemory.stdout, /\nNot recorded in the audit trail: the registry keeps its data in memory\n$/)
})

t.test('a running server reloads auth.access.writers from its config file, and keeps them when the file breaks', async (t) => {
  const dir = tempDir(t)
  const { file } = exampleConfig(dir)
  const log = captureStream()
  const app = await buildApp(loadConfig({ file, env: {} }), { logger: pino({ level: 'info' }, log) })
  t.teardown(() => app.close())
  t.equal((await runCliHere(['user', 'add', 'robot', '--password-stdin', '--config', file], { input: 'beep' })).code, 0)
  const robot = { authorization: basic('robot', 'beep') }
  await new Promise((r) => setTimeout(r, 1100))
  t.same((await app.inject({ url: '/v1/', headers: robot })).json(), { user: 'robot', canPush: false })

  t.equal((await runCliHere(['user', 'add', 'robot', '--writer', '--password-stdin', '--config', file], { input: 'beep' })).code, 0)
  const lines = () => log.text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; level: number; added?: string[]; removed?: string[] })
  const waitFor = async (what: (l: { msg: string }) => boolean) => {
    for (let i = 0; i < 60 && !lines().some(what); i++) await new Promise((r) => setTimeout(r, 100))
    return lines().find(what)
  }
  const reloaded = await waitFor((l) => l.msg.startsWith('reloaded auth.access.writers'))
  t.match(reloaded, { level: 30, msg: `reloaded auth.access.writers from ${file}: now admin, robot`, added: ['robot'], removed: [] })
  t.same((await app.inject({ url: '/v1/', headers: robot })).json(), { user: 'robot', canPush: true }, 'no restart')

  const good = readFileSync(file, 'utf8')
  writeFileSync(file, `${good.replace('writers: [admin, robot]', 'writers: [admin')}`)
  const broken = await waitFor((l) => l.msg.includes('no longer loads'))
  t.match(broken, { level: 50, msg: new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} no longer loads, so auth.access.writers stays admin, robot: `) })
  t.same((await app.inject({ url: '/v1/', headers: robot })).json(), { user: 'robot', canPush: true }, 'the old writers kept')

  writeFileSync(file, good.replace('writers: [admin, robot]', 'writers: [admin]'))
  const removed = await waitFor((l) => l.msg === `reloaded auth.access.writers from ${file}: now admin`)
  t.match(removed, { removed: ['robot'], added: [] })
  t.same((await app.inject({ url: '/v1/', headers: robot })).json(), { user: 'robot', canPush: false })
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/x/1.0.0', headers: robot })).statusCode, 403)
})
