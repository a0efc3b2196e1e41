// The Dockerfile and compose files cannot be run here (no Docker engine), so this keeps them in
// step with what the other tests exercise: the same command, config, port and volumes, the
// TLS override's environment, the healthcheck command the image's HEALTHCHECK runs, and the
// replicas' compose file with its nginx config (which nginx -t must accept).

import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { PACKAGE_ROOT } from '../src/paths.js'
import { COMMANDS } from '../src/cli/main.js'
import { loadConfig } from '../src/config/load.js'
import { basic, freePort, makeHtpasswd, requireProgram, runBin, runCliHere, startServer, tempDir } from './helpers.js'
import { nginxBinary } from './nginx.js'

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

t.test('docker-compose.ha.yml: PostgreSQL, MinIO and its bucket, the shared users, three identical replicas, nginx in front', async (t) => {
  requireProgram('docker-compose')
  const compose = (env: NodeJS.ProcessEnv) =>
    spawnSync('docker-compose', ['-f', join(PACKAGE_ROOT, 'docker-compose.ha.yml'), 'config'], { encoding: 'utf8', cwd: PACKAGE_ROOT, env: { PATH: process.env.PATH, ...env } })
  const passwords = { POSTGRES_PASSWORD: 'pg-secret', MINIO_ROOT_PASSWORD: 'minio-secret', PACKYARD_ADMIN_PASSWORD: 'admin-secret' }
  for (const missing of Object.keys(passwords)) {
    const without = compose({ ...passwords, [missing]: '' })
    t.not(without.status, 0, `refused without ${missing}`)
    t.match(without.stderr, `set ${missing}`)
  }
  const run = compose(passwords)
  t.equal(run.status, 0, run.stderr)
  interface Service {
    image?: string
    build?: { context: string }
    command?: string[]
    entrypoint?: string[]
    environment?: Record<string, string>
    ports?: unknown[]
    volumes?: Array<string | { source: string; target: string }>
    depends_on?: Record<string, { condition: string }>
    hostname?: string
  }
  const { services, volumes } = parseYaml(run.stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> }
  t.same(Object.keys(services).sort(), ['bucket', 'minio', 'nginx', 'packyard-1', 'packyard-2', 'packyard-3', 'postgres', 'users'])
  const replicas = ['packyard-1', 'packyard-2', 'packyard-3'].map((name) => services[name] as Service)
  const targets = (svc: Service) => (svc.volumes ?? []).map((v) => (typeof v === 'string' ? (v.split(':')[1] as string) : v.target)).sort()
  for (const [i, svc] of replicas.entries()) {
    t.equal(svc.image, 'packyard:latest', `replica ${i + 1}: the image docker-compose.yml builds`)
    t.equal(svc.build?.context, PACKAGE_ROOT)
    t.same(svc.command, ['serve', '/etc/spectro/config.yml'])
    t.same(svc.environment, replicas[0]?.environment, `replica ${i + 1}: the same settings as the first`)
    t.same(svc.ports ?? [], [], 'no port of its own: clients go through nginx')
    t.equal(svc.hostname, `packyard-${i + 1}`, 'a fixed hostname, so its replica.id (hostname:port) survives a recreated container')
    t.same(targets(svc), ['/auth', '/data'])
    t.same(svc.depends_on, { postgres: { condition: 'service_healthy' }, bucket: { condition: 'service_completed_successfully' }, users: { condition: 'service_completed_successfully' } })
  }
  const env = replicas[0]?.environment ?? {}
  const config = loadConfig({ doc: parseYaml(readFileSync(join(PACKAGE_ROOT, 'config.example.yaml'), 'utf8')) as Record<string, unknown>, env })
  t.match(config.database, { kind: 'postgres', url: 'postgres://packyard:pg-secret@postgres:5432/packyard' }, 'the metadata in the postgres service')
  t.match(config.storage.s3, { bucket: 'packyard', endpoint: 'http://minio:9000', credentials: { accessKeyId: 'packyard', secretAccessKey: 'minio-secret' } }, 'the blobs in the bucket the bucket service creates')
  t.equal(config.auth?.htpasswdPath, '/auth/htpasswd', 'the shared users file')
  t.same(config.http.trustedProxies, ['172.29.70.0/24'], "nginx's X-Forwarded-For is believed from the compose network")

  const bucket = services.bucket as Service
  t.equal(bucket.image, 'minio/mc')
  t.match(bucket.entrypoint?.join(' ') ?? '', /^sh -c$/)
  t.match(JSON.stringify(bucket.command), /mc mb --ignore-existing minio\/packyard/)
  const users = services.users as Service
  t.equal(users.image, 'packyard:latest')
  t.match(JSON.stringify(users.command), /test -s \/auth\/htpasswd \|\| .*packyard user add admin --password-stdin --htpasswd \/auth\/htpasswd/)
  t.same(targets(users), ['/auth'])
  t.same((services.minio as Service).environment, { MINIO_ROOT_USER: 'packyard', MINIO_ROOT_PASSWORD: 'minio-secret' })
  t.same(Object.keys(volumes).sort(), ['packyard-1-data', 'packyard-2-data', 'packyard-3-data', 'packyard-auth', 'packyard-minio', 'packyard-postgres'])

  const nginx = services.nginx as Service
  t.match(nginx.image, /^nginx:/)
  t.match(JSON.stringify(nginx.ports), /"published":5000,"target":80|5000:80/)
  const mounts = Object.fromEntries((nginx.volumes ?? []).map((v) => (typeof v === 'string' ? [v.split(':')[1], v.split(':')[0]] : [v.target, v.source])))
  t.equal(mounts['/etc/nginx/conf.d/default.conf'], join(PACKAGE_ROOT, 'deploy', 'nginx-ha.conf'))
  t.equal(mounts['/etc/nginx/packyard/nginx-proxy.conf'], join(PACKAGE_ROOT, 'deploy', 'nginx-proxy.conf'))
  t.equal(mounts['/etc/nginx/packyard/nginx-accel.conf'], join(PACKAGE_ROOT, 'deploy', 'nginx-accel.conf'))
  const ha = readFileSync(join(PACKAGE_ROOT, 'deploy', 'nginx-ha.conf'), 'utf8')
  t.match(ha, /^ {2}include \/etc\/nginx\/packyard\/nginx-proxy\.conf;$/m, 'the server block includes the proxy settings where compose mounts them')
  t.match(ha, /^ {4}include \/etc\/nginx\/packyard\/nginx-accel\.conf;$/m, 'and the accel location its settings')
  t.same(
    [...ha.matchAll(/^ {2}server (\S+)/gm)].map((m) => m[1]),
    ['packyard-1:5000', 'packyard-2:5000', 'packyard-3:5000'],
    'the upstream is the three replicas on the port the example config listens on',
  )
  t.equal(config.http.addr, ':5000')
})

t.test('deploy/nginx-ha.conf, nginx-proxy.conf and nginx-accel.conf: what large, long transfers and X-Accel-Redirect need, and nginx -t accepts them', async (t) => {
  const proxy = readFileSync(join(PACKAGE_ROOT, 'deploy', 'nginx-proxy.conf'), 'utf8')
  for (const directive of [
    'client_max_body_size 0;',
    'proxy_request_buffering off;',
    'proxy_buffering off;',
    'proxy_http_version 1.1;',
    'client_body_timeout 10m;',
    'proxy_read_timeout 1h;',
    'proxy_send_timeout 1h;',
    'proxy_set_header Host $http_host;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
  ]) {
    t.ok(proxy.split('\n').includes(directive), directive)
  }
  const ha = readFileSync(join(PACKAGE_ROOT, 'deploy', 'nginx-ha.conf'), 'utf8')
  t.match(ha, /location \/_packyard\/blobs\/ \{\n\s+alias \/var\/lib\/packyard\/blobs\/;\n/, 'the X-Accel-Redirect target, over the root\'s blobs/')
  const accel = readFileSync(join(PACKAGE_ROOT, 'deploy', 'nginx-accel.conf'), 'utf8').split('\n')
  for (const directive of ['internal;', 'etag off;', 'add_header Docker-Content-Digest $upstream_http_docker_content_digest;', 'add_header ETag $upstream_http_etag;']) t.ok(accel.includes(directive), directive)

  // nginx -t resolves upstream host names and reads the includes: the compose service names are
  // not resolvable here, so they become loopback addresses, and the includes name the repo files.
  const prefix = tempDir(t)
  const site = ha.replace(/packyard-\d:5000/g, '127.0.0.1:5000').replaceAll('/etc/nginx/packyard/', `${join(PACKAGE_ROOT, 'deploy')}/`)
  writeFileSync(join(prefix, 'site.conf'), site)
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `pid ${join(prefix, 'nginx.pid')};\nerror_log ${join(prefix, 'error.log')};\nevents {}\nhttp {\n  client_body_temp_path ${join(prefix, 'body')};\n  proxy_temp_path ${join(prefix, 'proxy')};\n  include ${join(prefix, 'site.conf')};\n}\n`,
  )
  const test = spawnSync(nginxBinary(), ['-t', '-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { encoding: 'utf8' })
  t.equal(test.status, 0, test.stderr)
  t.match(test.stderr, /test is successful/)
})
