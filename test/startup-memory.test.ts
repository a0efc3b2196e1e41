// What an idle server holds: a registry that uses neither S3 nor Let's Encrypt never loads the
// AWS SDK or acme-client (each is loaded only when configured), and once the server listens,
// the memory start-up used is given back (startup-memory.ts). `npm run bench` measures the
// resulting idle RSS beside the reference registry's (bench/scenarios/idle.ts).

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { getHeapStatistics } from 'node:v8'
import { releaseStartupMemory } from '../src/startup-memory.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { makeCa, makeCertificate } from './tls/helpers.js'
import { requireProgram, tempDir, testApp } from './helpers.js'

/** The heavy optional libraries: the AWS SDK (and its Smithy runtime) and acme-client. */
const HEAVY = /\/node_modules\/(@aws-sdk|@smithy|acme-client)\//

/** Builds and starts an app in a process of its own; answers the heavy modules it loaded. */
function heavyModulesLoaded(env: Record<string, string>): string[] {
  const script = `
    const { buildApp } = require(${JSON.stringify(join(PACKAGE_ROOT, 'dist', 'src', 'app.js'))})
    const { loadConfig } = require(${JSON.stringify(join(PACKAGE_ROOT, 'dist', 'src', 'config', 'load.js'))})
    buildApp(loadConfig({ env: process.env })).then(async (app) => {
      await app.listen({ host: '127.0.0.1', port: 0 })
      await app.inject({ url: '/health' })
      const heavy = Object.keys(require.cache).filter((path) => ${HEAVY}.test(path))
      await app.close()
      process.stdout.write(JSON.stringify(heavy))
    })`
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', REGISTRY_LOG_LEVEL: 'silent', ...env }, timeout: 60_000 })
  if (run.status !== 0) throw new Error(`the app did not start: ${run.stderr}`)
  return JSON.parse(run.stdout) as string[]
}

t.test('a filesystem registry, with or without certificate files, loads neither the AWS SDK nor acme-client', async (t) => {
  const dir = tempDir(t)
  t.same(heavyModulesLoaded({ REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'plain') }), [], 'plain HTTP')
  requireProgram('openssl')
  const pair = makeCertificate(dir, 'server', makeCa(dir, 'ca'), ['127.0.0.1'])
  t.same(
    heavyModulesLoaded({ REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'tls'), REGISTRY_HTTP_TLS_CERTIFICATE: pair.cert, REGISTRY_HTTP_TLS_KEY: pair.key }),
    [],
    'HTTPS with certificate files',
  )
  t.same(heavyModulesLoaded({ REGISTRY_STORAGE: 'inmemory' }), [], 'in memory')
})

t.test('after start-up, the memory it used is given back', async (t) => {
  await testApp(t)
  // What start-up leaves: garbage, and a young generation grown to its cap.
  const garbage = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `start-up object ${i}` }))
  t.ok(garbage.length > 0)
  const before = getHeapStatistics().total_heap_size
  garbage.length = 0
  releaseStartupMemory()
  const after = getHeapStatistics().total_heap_size
  t.ok(after < before * 0.8, `the heap V8 holds shrank from ${(before / 1e6).toFixed(1)} MB to ${(after / 1e6).toFixed(1)} MB`)
})
