// The storage matrix: the /v1 and /v2 HTTP suites once more, with their blobs on S3 (s3rver on a
// loopback port) instead of the filesystem. Each suite file runs as it is, in its own process,
// with PACKYARD_TEST_S3_ENDPOINT set: testConfig (test/helpers.ts) then gives every app that
// asks for no particular storage an S3 bucket prefix of its own and a local database.

import t from 'tap'
import { join } from 'node:path'
import { TEST_S3_ENDPOINT_VARIABLE } from '../helpers.js'
import { startS3Server } from '../s3-helpers.js'
import { runSuiteFile } from '../system.js'

/** The suites about the HTTP API whatever stores the blobs (foundation.test.ts looks at the disk). */
const SUITES = ['v1-packs', 'pack-bridge', 'v2-push', 'v2-pull', 'v2-packs', 'v2-management', 'v2-discovery', 'v2-auth', 'refusals', 'hostile-bodies', 'distribution-walk']

// The suites run one after another: about a minute and a half on two cores.
t.setTimeout(15 * 60_000)

t.test('the HTTP suites with S3 storage', async (t) => {
  const s3 = await startS3Server(t)
  for (const suite of SUITES) {
    const { code, output, passes, failures } = await runSuiteFile(join(__dirname, `${suite}.test.js`), { [TEST_S3_ENDPOINT_VARIABLE]: s3.endpoint })
    t.equal(code, 0, `${suite}.test.js on S3: ${passes} passed, ${failures.length} failed${failures.length ? `\n${output.slice(-6000)}` : ''}`)
    t.ok(passes > 0, `${suite}.test.js ran its tests`)
  }
})
