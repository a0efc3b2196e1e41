// tap's `after` script (package.json `tap.after`): stops the test run's PostgreSQL server
// (test/postgres-run.ts) in a process without tap's coverage recorder, like
// test/postgres-before.ts.

import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const run = spawnSync(process.execPath, [join(__dirname, 'postgres-run.js'), 'stop', String(process.ppid)], {
  stdio: 'inherit',
  env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
})
process.exitCode = Number(run.status !== 0)
