// The engine matrix: the suites that walk the registry as its users do (the /v1 pack API with
// its concurrent parent-tag pushes, the distribution API walk, the pack bridge, the pack
// browser and its search, events, the CLI end to end) once more with the metadata in
// PostgreSQL. Each suite file runs as it is, in its own process, with PACKYARD_TEST_POSTGRES
// set: testConfig (test/helpers.ts) then gives every app that names no database of its own a
// fresh PostgreSQL database on this run's server, with an ICU collation as real servers' defaults
// have (so any paging that relies on byte order without the schema's COLLATE "C" shows). The
// metadata conformance of the engines themselves is test/meta/engines.test.ts.

import t from 'tap'
import { join } from 'node:path'
import { TEST_POSTGRES_VARIABLE } from './helpers.js'
import { freshDatabase } from './postgres.js'
import { runSuiteFile } from './system.js'

const SUITES = ['http/v1-packs', 'http/tags', 'http/racing-writes', 'http/v2-discovery', 'http/pack-bridge', 'http/v2-push', 'http/v2-pull', 'http/v2-management', 'http/distribution-walk', 'http/events', 'http/ui', 'ui/search', 'cli/e2e']

// The suites run one after another: a couple of minutes on two cores.
t.setTimeout(20 * 60_000)

t.test('the user-facing suites with the metadata in PostgreSQL', async (t) => {
  // A database of the run's server, only to find the server: the suites create their own.
  const admin = new URL(await freshDatabase(t))
  admin.pathname = '/postgres'
  for (const suite of SUITES) {
    const { code, output, passes, failures } = await runSuiteFile(join(__dirname, `${suite}.test.js`), { [TEST_POSTGRES_VARIABLE]: admin.toString() })
    t.equal(code, 0, `${suite}.test.js on PostgreSQL: ${passes} passed, ${failures.length} failed${failures.length ? `\n${output.slice(-6000)}` : ''}`)
    t.ok(passes > 0, `${suite}.test.js ran its tests`)
  }
})
