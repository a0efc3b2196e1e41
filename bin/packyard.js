#!/usr/bin/env node
'use strict'
// The one executable: every server, operator and client command goes through the CLI router.
// On an unsupported Node the SQLite addon would crash without a word, so say so first.
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`Error: Packyard needs Node.js 22 or newer (24 LTS recommended); this is Node.js ${process.version} (${process.execPath})\n`)
  process.exit(1)
}
require('../dist/src/cli/main.js').main(process.argv.slice(2))
