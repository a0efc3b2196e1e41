// End to end: the real `packyard` binary, spawned the way a shell or a CI script runs it, against
// a real server on an ephemeral port. One walk through login, push, ls, pull, tag and delete,
// every command with the global `-s HOME` before the command words (`packyard -s DIR pack push
// ...`, as cobra allows). Each step is its own process, so this also checks what only a process
// shows: exit codes, flushed output, and (for the push) which modules it loaded: a client
// command must not load the server. The cases of every command are in commands.test.ts, which
// runs the same code in process.

import t from 'tap'
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { listeningApp, runBin, tempDir, USERS } from '../helpers.js'

const DIGEST = /sha256:[0-9a-f]{64}/

t.test('the binary, with -s HOME before the command words', async (t) => {
  const root = realpathSync(tempDir(t))
  const { server: S } = await listeningApp(t)
  const home = join(root, 'home')
  const env = { HOME: join(root, 'not-this-home') }
  const cli = (args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) => runBin(['-s', home, ...args], { cwd: root, env: { ...env, ...options.env }, ...(options.input === undefined ? {} : { input: options.input }) })

  const login = await cli(['registry', 'login', S, '--insecure', '--username', 'admin', '--password-stdin'], { input: `${USERS.admin}\n` })
  t.equal(login.code, 0, login.stderr)
  t.equal(login.stdout, 'Login Succeeded\n')
  t.equal(login.stderr, `WARNING! Your password will be stored unencrypted in ${join(home, 'config.json')}.\n${S} is now the default registry.\n`)

  const pack = join(root, 'hello')
  mkdirSync(pack)
  writeFileSync(join(pack, 'pack.json'), JSON.stringify({ name: 'hello', displayName: 'Hello', version: '1.0.0', layer: 'addon' }))
  writeFileSync(join(pack, 'values.yaml'), 'pack:\n  namespace: hello\n')
  writeFileSync(join(pack, 'logo.png'), 'PNG')
  const modules = join(root, 'modules.txt')
  const recorder = join(PACKAGE_ROOT, 'dist', 'test', 'cli', 'record-modules.js')
  const created = await cli(['pack', 'push', pack], { env: { NODE_OPTIONS: `--require ${recorder}`, PACKYARD_TEST_MODULES: modules } })
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stderr, '', 'no progress bar when stderr is not a terminal')
  const m = new RegExp(`^Created hello:1\\.0\\.0 on ${S}\\nDigest: (${DIGEST.source})\\nParent tags: 1\\.0\\.x, 1\\.x\\n$`).exec(created.stdout)
  t.ok(m, created.stdout)
  const digest = m?.[1] as string
  const loaded = readFileSync(modules, 'utf8').split('\n')
  t.ok(loaded.some((p) => p.endsWith(join('dist', 'src', 'cli', 'commands', 'pack-push.js'))), 'the record is of the push')
  for (const server of ['node_modules/fastify/', 'node_modules/better-sqlite3/', 'node_modules/pino/', 'dist/src/app.js', 'dist/src/server.js', 'dist/src/meta/', 'dist/src/http/']) {
    t.same(loaded.filter((p) => p.includes(server)), [], `pack push does not load ${server}`)
  }

  const again = await cli(['pack', 'push', pack])
  t.equal(again.code, 1)
  t.equal(again.stderr, `Error: hello:1.0.0 already exists on ${S} (digest ${digest}); to overwrite it: packyard pack push ${pack} --force --message "what changed"\n`)
  const forced = await cli(['pack', 'push', '-m', 'same again', '--registry-server', S, '--force', pack])
  t.equal(forced.code, 0, forced.stderr)
  t.equal(forced.stdout, `Unchanged hello:1.0.0 on ${S}: the registry already has this exact archive\nDigest: ${digest}\nParent tags: 1.0.x, 1.x\n`)

  const ls = await cli(['pack', 'ls'])
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, new RegExp(`^NAME +TAG +VERSION +PARENT TAGS +DIGEST +UPDATED\\nhello +1\\.0\\.0 +1\\.0\\.0 +1\\.0\\.x,1\\.x +${digest.slice(7, 19)} +\\S+Z\\n$`))

  const pulled = await cli(['pack', 'pull', 'hello:1.x', join(root, 'pulled')])
  t.equal(pulled.code, 0, pulled.stderr)
  t.equal(pulled.stdout, `Pulled hello:1.x (version 1.0.0, ${digest}) to ${join(root, 'pulled', 'hello-1.0.0')}\n`)
  t.equal(readFileSync(join(root, 'pulled', 'hello-1.0.0', 'values.yaml'), 'utf8'), 'pack:\n  namespace: hello\n')

  const tagged = await cli(['pack', 'tag', 'add', 'hello:1.0.0', 'stable'])
  t.equal(tagged.stdout, `Tagged hello:1.0.0 as hello:stable (${digest})\n`)
  const untagged = await cli(['pack', 'tag', 'delete', 'hello:stable'])
  t.equal(untagged.stdout, `Deleted tag hello:stable (it pointed at ${digest})\n`)
  const deleted = await cli(['pack', 'delete', 'hello:1.0.0'])
  t.equal(deleted.stdout, `Deleted hello 1.0.0 (${digest}) and its tags 1.0.0\n`)
  const logout = await cli(['registry', 'logout'])
  t.equal(logout.stdout, `Removed login credentials for ${S}\n`)

  const typo = await cli(['pakc', 'push', pack])
  t.equal(typo.code, 2)
  t.match(typo.stderr, /^Error: unknown command "pakc"; did you mean "pack push"\?\n/)
  const version = await runBin(['--version'])
  t.equal(version.code, 0)
  t.match(version.stdout, /^Packyard CLI Version \d+\.\d+\.\d+ \w+\/\w+ \(commit [0-9a-f]{12}\)\n$/)
})
