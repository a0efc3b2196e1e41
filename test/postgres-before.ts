// tap's `before` script (package.json `tap.before`): starts the test run's PostgreSQL server
// before any test file (test/postgres-run.ts). tap runs this file with its coverage recorder and
// checks what it records even with coverage disabled, so the work runs in a process without it
// (coverage off), and this file is a straight line, without a branch, so it is always fully covered.

import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const run = spawnSync(process.execPath, [join(__dirname, 'postgres-run.js'), 'start', String(process.ppid)], {
  stdio: 'inherit',
  env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
})
process.exitCode = Number(run.status !== 0)
