// The single-file client as a user gets it: built for linux-x64 (npm run build:client; cached, so
// only a run after a change pays for it), copied alone into an empty folder and run with a PATH
// that holds no Node.js at all, through the publishing walk against a real server: healthcheck,
// login, a pack built from a Helm chart, push, ls, pull, tag add and delete, events, delete,
// logout. It refuses the server's commands with one line. Then the same file downloaded from the
// registry's /_client/ URL, checked against the sha256 served beside it, prints the server's
// version and commit.

import t from 'tap'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildClient } from '../../scripts/build-client.js'
import { CLIENT_DIR } from '../../src/client-files.js'
import { buildCommit, VERSION } from '../../src/version.js'
import { listeningApp, tempDir, USERS } from '../helpers.js'

// The first build on a machine downloads Node's linux-x64 binary (about 50 MB) from the npm registry.
t.setTimeout(10 * 60_000)

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}

const VERSION_LINE = `Packyard CLI Version ${VERSION} linux/amd64 (commit ${buildCommit()})\n`

t.test('the linux-x64 file alone, without Node.js, through the publishing walk', async (t) => {
  t.equal(`${process.platform}-${process.arch}`, 'linux-x64', 'the suite runs where this file runs')
  const manifest = await buildClient({ targets: ['linux-x64'], log: (line) => t.comment(line) })
  t.match(manifest, { version: VERSION, commit: buildCommit(), node: '24.21.0' })

  const root = realpathSync(tempDir(t))
  const bin = join(root, 'bin')
  const noNode = join(root, 'empty-path')
  mkdirSync(bin)
  mkdirSync(noNode)
  const packyard = join(bin, 'packyard')
  copyFileSync(join(CLIENT_DIR, 'packyard-linux-x64'), packyard)
  t.same(readdirSync(bin), ['packyard'], 'one file')

  // `env -i PATH=/usr/bin:/bin`, as the README runs it...
  const version = await run(packyard, ['version'], { cwd: root, env: { PATH: '/usr/bin:/bin' } })
  t.same(version, { code: 0, stdout: VERSION_LINE, stderr: '' })
  // ...and, for every command of the walk, a PATH with nothing on it: no node to fall back on.
  const home = join(root, 'home')
  const cli = (args: string[], input?: string) => run(packyard, ['-s', home, ...args], { cwd: root, env: { PATH: noNode }, ...(input === undefined ? {} : { input }) })

  for (const server of [['serve'], ['user', 'add', 'ci-bot'], ['garbage-collect'], ['backup', join(root, 'backup')]]) {
    const refused = await cli(server)
    t.equal(refused.code, 1, server.join(' '))
    t.equal(refused.stderr, `Error: packyard ${server.slice(0, server[0] === 'user' ? 2 : 1).join(' ')} is a server command, which this single-file client does not carry; run the server from the Docker image or the npm package (npm install -g packyard)\n`)
  }

  const { server: S } = await listeningApp(t)
  const health = await run(packyard, ['healthcheck'], { cwd: root, env: { PATH: noNode, REGISTRY_HTTP_ADDR: S } })
  t.same(health, { code: 0, stdout: `UP: http://${S}/health answered {"status":"UP"}\n`, stderr: '' }, 'healthcheck, with the config from the environment')
  const login = await cli(['registry', 'login', S, '--insecure', '-u', 'admin', '--password-stdin'], `${USERS.admin}\n`)
  t.equal(login.code, 0, login.stderr)
  t.equal(login.stdout, 'Login Succeeded\n')

  mkdirSync(join(root, 'hello-pack', 'hello', 'templates'), { recursive: true })
  writeFileSync(join(root, 'hello-pack', 'hello', 'Chart.yaml'), 'apiVersion: v2\nname: hello\ndescription: A first pack\nversion: 1.0.0\n')
  writeFileSync(join(root, 'hello-pack', 'hello', 'values.yaml'), '# The greeting the config map holds\ngreeting: hello\n')
  writeFileSync(join(root, 'hello-pack', 'hello', 'templates', 'configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n')
  const built = await cli(['pack', 'build', 'hello', 'hello-pack'])
  t.equal(built.code, 0, built.stderr)
  t.match(built.stdout, /^Built pack hello:1\.0\.0 in hello-pack: charts\/hello-1\.0\.0\.tgz, pack\.json, values\.yaml/)

  const pushed = await cli(['pack', 'push', 'hello-pack'])
  t.equal(pushed.code, 0, pushed.stderr)
  const m = new RegExp(`^Created hello:1\\.0\\.0 on ${S}\\nDigest: (sha256:[0-9a-f]{64})\\nParent tags: 1\\.0\\.x, 1\\.x\\n$`).exec(pushed.stdout)
  t.ok(m, pushed.stdout)
  const digest = m?.[1] as string

  const ls = await cli(['pack', 'ls'])
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, new RegExp(`\\nhello +1\\.0\\.0 +1\\.0\\.0 +1\\.0\\.x,1\\.x +${digest.slice(7, 19)} `))

  const pulled = await cli(['pack', 'pull', 'hello:1.x', 'pulled'])
  t.equal(pulled.code, 0, pulled.stderr)
  t.equal(pulled.stdout, `Pulled hello:1.x (version 1.0.0, ${digest}) to ${join('pulled', 'hello-1.0.0')}\n`)
  t.ok(existsSync(join(root, 'pulled', 'hello-1.0.0', 'charts', 'hello-1.0.0.tgz')), 'the chart came back')

  t.equal((await cli(['pack', 'tag', 'add', 'hello:1.0.0', 'stable'])).stdout, `Tagged hello:1.0.0 as hello:stable (${digest})\n`)
  t.equal((await cli(['pack', 'tag', 'delete', 'hello:stable'])).stdout, `Deleted tag hello:stable (it pointed at ${digest})\n`)
  const events = await cli(['events', '--pack', 'hello'])
  t.equal(events.code, 0, events.stderr)
  t.match(events.stdout, /\n\S+ +admin +create +hello +1\.0\.0 /)
  t.equal((await cli(['pack', 'delete', 'hello:1.0.0'])).stdout, `Deleted hello 1.0.0 (${digest}) and its tags 1.0.0\n`)
  t.equal((await cli(['registry', 'logout'])).stdout, `Removed login credentials for ${S}\n`)
})

t.test('downloaded from the registry: the sha256 served beside it matches, and it is the server\'s release', async (t) => {
  const manifest = await buildClient({ targets: ['linux-x64'], log: (line) => t.comment(line) })
  const { server: S } = await listeningApp(t)
  const res = await fetch(`http://${S}/_client/packyard-linux-x64`)
  t.equal(res.status, 200, 'no credentials')
  t.equal(res.headers.get('x-packyard-version'), VERSION)
  t.equal(res.headers.get('x-packyard-commit'), buildCommit())
  const bytes = Buffer.from(await res.arrayBuffer())
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  t.equal(await (await fetch(`http://${S}/_client/packyard-linux-x64.sha256`)).text(), `${sha256}  packyard-linux-x64\n`)
  t.equal(sha256, manifest.files.find((f) => f.file === 'packyard-linux-x64')?.sha256)

  const root = realpathSync(tempDir(t))
  const packyard = join(root, 'packyard')
  writeFileSync(packyard, bytes)
  chmodSync(packyard, 0o755)
  t.same(await run(packyard, ['version'], { cwd: root, env: { PATH: '/usr/bin:/bin' } }), { code: 0, stdout: VERSION_LINE, stderr: '' })
})
