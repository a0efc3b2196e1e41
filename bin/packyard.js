#!/usr/bin/env node
'use strict'
// The one executable: every server, operator and client command goes through the CLI router.
require('../dist/src/cli/main.js').main(process.argv.slice(2))
