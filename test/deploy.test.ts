// The Dockerfile and compose file cannot be run here (no Docker engine), so this keeps them in
// step with what the other tests exercise: the same command, config, port and volumes.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { PACKAGE_ROOT } from '../src/paths.js'
import { basic, requireProgram, startServer, tempDir } from './helpers.js'

const dockerfile = readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8')
const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))

t.test('Dockerfile: entrypoint, command, port, volumes, user, healthcheck', async (t) => {
  t.match(finalStage, /^ENTRYPOINT \["packyard"\]$/m)
  t.match(finalStage, /^CMD \["serve", "\/etc\/spectro\/config.yml"\]$/m)
  t.match(finalStage, /^EXPOSE 5000$/m)
  t.match(finalStage, /^VOLUME \["\/data", "\/auth", "\/certs"\]$/m)
  t.match(finalStage, /^USER node$/m)
  t.match(finalStage, /^HEALTHCHECK .*\n?.*\/health/m)
  t.match(finalStage, /^COPY config.example.yaml \/etc\/spectro\/config.yml$/m)
  t.match(dockerfile, /^RUN npm ci/m, 'built with the same npm ci as a user')
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

t.test('the compose/image start command works: serve /etc/spectro/config.yml = config.example.yaml', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [join(PACKAGE_ROOT, 'config.example.yaml')], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }, cwd)
  const password = readFileSync(join(cwd, 'data', 'initial-admin-password'), 'utf8').trim()
  t.equal((await fetch(`${server.url}/health`)).status, 200)
  t.equal((await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', password) } })).status, 200)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})
