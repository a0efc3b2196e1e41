// Preloaded into a spawned `packyard` by e2e.test.ts (node --require): as the process exits, it
// writes the path of every module the process loaded to the file PACKYARD_TEST_MODULES names,
// so the test can check that a client command never loads the server.

import { writeFileSync } from 'node:fs'

const out = process.env.PACKYARD_TEST_MODULES
if (out) process.on('exit', () => writeFileSync(out, Object.keys(require.cache).join('\n')))
