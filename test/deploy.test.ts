// The Dockerfile and compose files cannot be run here (no Docker engine), so this keeps them in
// step with what the other tests exercise: the same command, config, port and volumes, the
// TLS override's environment, and the healthcheck command the image's HEALTHCHECK runs.

import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { PACKAGE_ROOT } from '../src/paths.js'
import { COMMANDS } from '../src/cli/main.js'
import { loadConfig } from '../src/config/load.js'
import { basic, freePort, makeHtpasswd, requireProgram, runBin, runCliHere, startServer, tempDir } from './helpers.js'

const dockerfile = readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8')
const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))

t.test('Dockerfile: entrypoint, command, port, volumes, user, healthcheck, Node 24', async (t) => {
  t.same(dockerfile.match(/^FROM .*/gm), ['FROM node:24-bookworm-slim AS build', 'FROM node:24-bookworm-slim'])
  t.match(finalStage, /^ENTRYPOINT \["packyard"\]$/m)
  t.match(finalStage, /^CMD \["serve", "\/etc\/spectro\/config.yml"\]$/m)
  t.match(finalStage, /^EXPOSE 5000$/m)
  t.match(finalStage, /^VOLUME \["\/data", "\/auth", "\/certs"\]$/m)
  t.match(finalStage, /^USER node$/m)
  t.match(finalStage, /^HEALTHCHECK .*\\\n {2}CMD \["packyard", "healthcheck"\]$/m, 'the probe follows the config, see the healthcheck tests below')
  t.ok(COMMANDS.some((c) => c.path.join(' ') === 'healthcheck'), 'a registered command')
  t.match(finalStage, /chown node:node \/data \/auth \/certs\nUSER node$/m)
  t.match(finalStage, /^COPY config.example.yaml \/etc\/spectro\/config.yml$/m)
  t.match(dockerfile, /^ && npm ci \\\n && npm run build:client \\\n && npm prune --omit=dev$/m, 'built with the same npm ci as a user, then the single-file client')
  t.match(dockerfile, /^COPY scripts \.\/scripts$/m, 'the client build script is in the build stage')
  t.match(finalStage, /^COPY --from=build \/src\/dist\/client \.\/dist\/client$/m, 'the image carries the client files it serves at /_client/')
  t.match(finalStage, /^COPY --from=build \/src\/COMMIT \.\/COMMIT$/m, 'and the commit they and the server were built from')
  for (const folder of ['src/http/ui/templates', 'src/http/ui/static']) {
    t.match(finalStage, new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'), `the image has the pack browser's ${folder}`)
  }
})

t.test('docker-compose.yml is valid and runs the image command with the example config', async (t) => {
  requireProgram('docker-compose')
  const resolved = parseYaml(execFileSync('docker-compose', ['-f', join(PACKAGE_ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8', cwd: PACKAGE_ROOT })) as {
    services: { packyard: { command: string[]; ports: Array<string | { target: number }>; volumes: Array<string | { source: string; target: string }> } }
  }
  const svc = resolved.services.packyard
  t.same(svc.command, ['serve', '/etc/spectro/config.yml'])
  t.match(JSON.stringify(svc.ports), /5000/)
  const volumes = JSON.stringify(svc.volumes)
  t.match(volumes, /config\.example\.yaml/)
  t.match(volumes, /\/etc\/spectro\/config\.yml/)
  t.match(volumes, /"\/data"|:\/data/)
})

t.test('docker-compose.tls.yml: a certificate and an htpasswd mounted, the server pointed at them', async (t) => {
  requireProgram('docker-compose')
  const resolved = parseYaml(
    execFileSync('docker-compose', ['-f', join(PACKAGE_ROOT, 'docker-compose.yml'), '-f', join(PACKAGE_ROOT, 'docker-compose.tls.yml'), 'config'], { encoding: 'utf8', cwd: PACKAGE_ROOT }),
  ) as { services: { packyard: { command: string[]; environment: Record<string, string>; volumes: string[] } } }
  const svc = resolved.services.packyard
  t.same(svc.command, ['serve', '/etc/spectro/config.yml'])
  t.same(svc.environment, { REGISTRY_AUTH_HTPASSWD_PATH: '/auth/htpasswd', REGISTRY_HTTP_TLS_CERTIFICATE: '/certs/tls.crt', REGISTRY_HTTP_TLS_KEY: '/certs/tls.key' })
  const targets = svc.volumes.map((v) => v.split(':')[1])
  t.same(targets.sort(), ['/auth', '/certs', '/data', '/etc/spectro/config.yml'])
})

t.test('docker-compose.postgres.yml: a PostgreSQL service, the server pointed at it once it is healthy', async (t) => {
  requireProgram('docker-compose')
  const compose = (env: NodeJS.ProcessEnv) =>
    spawnSync('docker-compose', ['-f', join(PACKAGE_ROOT, 'docker-compose.yml'), '-f', join(PACKAGE_ROOT, 'docker-compose.postgres.yml'), 'config'], { encoding: 'utf8', cwd: PACKAGE_ROOT, env: { PATH: process.env.PATH, ...env } })
  const unset = compose({})
  t.not(unset.status, 0, 'refused without POSTGRES_PASSWORD')
  t.match(unset.stderr, /set POSTGRES_PASSWORD/)
  const resolved = parseYaml(compose({ POSTGRES_PASSWORD: 'compose-secret' }).stdout) as {
    services: { packyard: { environment: Record<string, string>; depends_on: Record<string, { condition: string }> }; postgres: { image: string; environment: Record<string, string>; healthcheck: { test: string[] } } }
  }
  const { packyard, postgres } = resolved.services
  const url = packyard.environment.REGISTRY_DATABASE_URL as string
  t.equal(url, 'postgres://packyard:compose-secret@postgres:5432/packyard')
  t.same(packyard.depends_on, { postgres: { condition: 'service_healthy' } })
  t.match(postgres.image, /^postgres:\d+$/)
  t.same(postgres.environment, { POSTGRES_USER: 'packyard', POSTGRES_DB: 'packyard', POSTGRES_PASSWORD: 'compose-secret' })
  t.same(postgres.healthcheck.test, ['CMD', 'pg_isready', '-U', 'packyard', '-d', 'packyard'])
  const config = loadConfig({ doc: {}, env: { REGISTRY_DATABASE_URL: url } })
  t.match(config.database, { kind: 'postgres', url }, 'the URL is one the server takes')
})

t.test('what the TLS override runs: the example config with its environment, probed by packyard healthcheck', async (t) => {
  requireProgram('openssl')
  const cwd = tempDir(t)
  const auth = join(cwd, 'auth')
  const certs = join(cwd, 'certs')
  mkdirSync(auth)
  mkdirSync(certs)
  makeHtpasswd(auth, { admin: 'compose-secret' })
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certs, 'tls.key'), '-out', join(certs, 'tls.crt'), '-days', '1', '-subj', '/CN=registry.example.com'], { stdio: 'pipe' })
  const port = await freePort()
  // The override's environment with /auth and /certs where this test keeps them, on another port than 5000.
  const env = {
    REGISTRY_AUTH_HTPASSWD_PATH: join(auth, 'htpasswd'),
    REGISTRY_HTTP_TLS_CERTIFICATE: join(certs, 'tls.crt'),
    REGISTRY_HTTP_TLS_KEY: join(certs, 'tls.key'),
    REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
  }
  const example = join(PACKAGE_ROOT, 'config.example.yaml')
  const server = await startServer(t, [example], env, cwd)
  t.match(server.url, /^https:/)
  const health = await runCliHere(['healthcheck', example], { env })
  t.equal(health.code, 0, health.stderr)
  t.equal(health.stdout, `UP: https://127.0.0.1:${port}/health answered {"status":"UP"}\n`)
  const asBinary = await runBin(['healthcheck', example], { env, cwd })
  t.equal(asBinary.code, 0, 'the image runs it as a program: exit 0')
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  const down = await runCliHere(['healthcheck', example], { env })
  t.equal(down.code, 1)
  t.equal(down.stderr, `Error: cannot reach the registry at https://127.0.0.1:${port}/health: ECONNREFUSED\n`)
})

t.test('packyard healthcheck follows http.addr over plain HTTP and reports what is wrong', async (t) => {
  const cwd = tempDir(t)
  const port = await freePort()
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: `:${port}`, REGISTRY_STORAGE: 'inmemory' }, cwd)
  const ok = await runCliHere(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: `:${port}` } })
  t.equal(ok.code, 0, ok.stderr)
  t.equal(ok.stdout, `UP: http://127.0.0.1:${port}/health answered {"status":"UP"}\n`)
  const wrongPort = await runCliHere(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${await freePort()}` } })
  t.equal(wrongPort.code, 1)
  t.match(wrongPort.stderr, /^Error: cannot reach the registry at http:\/\/127\.0\.0\.1:\d+\/health: ECONNREFUSED\n$/)
  const badTimeout = await runCliHere(['healthcheck', '--timeout', 'soon'])
  t.equal(badTimeout.code, 2)
  t.match(badTimeout.stderr, /^Error: --timeout must be a duration/)
  server.child.kill('SIGTERM')
  await server.exited
})

t.test('the compose/image start command works: serve /etc/spectro/config.yml = config.example.yaml', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [join(PACKAGE_ROOT, 'config.example.yaml')], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }, cwd)
  const password = readFileSync(join(cwd, 'data', 'initial-admin-password'), 'utf8').trim()
  t.equal((await fetch(`${server.url}/health`)).status, 200)
  t.equal((await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', password) } })).status, 200)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})

t.test('a Node.js older than "engines": npm ci stops at once (engine-strict), and so does packyard, with the same bound', async (t) => {
  // Debian's nodejs (20) is the old Node at hand; the suite itself runs on 24.
  const oldNode = '/usr/bin/node'
  const major = Number(execFileSync(oldNode, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim())
  t.ok(major < 22, `${oldNode} is Node ${major}, older than package.json allows`)
  const required = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node
  t.equal(required, '>=22')

  const dir = tempDir(t)
  for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(PACKAGE_ROOT, file), join(dir, file))
  const npm = spawnSync('npm', ['ci', '--dry-run', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}` }, timeout: 60_000 })
  t.not(npm.status, 0, 'npm ci fails')
  t.match(npm.stderr, /EBADENGINE/)
  t.match(npm.stderr, `Required: {"node":"${required}"}`)
  t.notOk(existsSync(join(dir, 'node_modules')), 'nothing installed')

  const run = spawnSync(oldNode, [join(PACKAGE_ROOT, 'bin', 'packyard.js'), 'version'], { encoding: 'utf8' })
  t.equal(run.status, 1)
  t.match(run.stderr, `Error: Packyard needs Node.js ${required} (package.json "engines"; 24 LTS recommended); this is Node.js v${major}.`)
})
