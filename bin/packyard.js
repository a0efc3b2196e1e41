#!/usr/bin/env -S node --max-semi-space-size=16
'use strict'
// The one executable: every server, operator and client command goes through the CLI router.
// --max-semi-space-size=16 (MiB) keeps V8's young generation at Node 20's size: Node 22+ grow it
// to 64 MiB semi-spaces on a machine with much memory, which raised the server's RSS by ~90 MB
// while moving large blobs, for no throughput gain (npm run bench). npm start passes it too.
// On an unsupported Node the SQLite addon would crash without a word, so say so first, with the
// bound of package.json's "engines" (which npm ci enforces too: .npmrc's engine-strict).
const required = require('../package.json').engines.node
if (Number(process.versions.node.split('.')[0]) < Number(/\d+/.exec(required)[0])) {
  process.stderr.write(`Error: Packyard needs Node.js ${required} (package.json "engines"; 24 LTS recommended); this is Node.js ${process.version} (${process.execPath})\n`)
  process.exit(1)
}
require('../dist/src/cli/main.js').main(process.argv.slice(2))
