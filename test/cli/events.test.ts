// packyard events against a real server on an ephemeral port (the CLI in this process through
// runCli): the table with the replica that handled each change, --output json, the filters,
// every page followed, and a reader refused.

import t from 'tap'
import { mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { collectGarbage } from '../../src/maintenance/gc.js'
import { ADMIN, basic, listeningApp, runCliHere, tempDir, USERS } from '../helpers.js'
import { archive, packFiles, push } from '../pack-fixtures.js'

t.test('packyard events: every page, as a table or JSON, filtered', async (t) => {
  // Two events per page, so the command has to follow the Link header.
  const { app, server: S } = await listeningApp(t, { limits: { pagesize: 2, loginfailures: 2 } })
  const home = join(tempDir(t), 'home')
  mkdirSync(home)
  const env = { HOME: home }
  const cli = (args: string[]) => runCliHere(args, { env })
  t.equal((await cli(['registry', 'login', S, '--insecure', '--username', 'admin', '--password', USERS.admin])).code, 0)

  const created = await push(app, await archive(packFiles()))
  t.equal(created.statusCode, 201)
  const digest = created.json().digest as string
  t.equal((await push(app, await archive(packFiles({}, { 'values.yaml': 'replicas: 2\n' })), { force: 'true', message: 'two replicas' })).statusCode, 200)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN }, payload: { ref: '1.0.0' } })).statusCode, 201)
  const wrong = { url: '/v1/', remoteAddress: '10.0.0.7', headers: { authorization: basic('reader', 'wrong') } }
  for (let i = 0; i < 2; i++) t.equal((await app.inject(wrong)).statusCode, 401)

  const table = await cli(['events'])
  t.equal(table.code, 0, table.stderr)
  t.equal(table.stderr, '')
  const lines = table.stdout.trimEnd().split('\n')
  // The server is replica <host name>:5000 (http.addr's default port; the test listens elsewhere).
  const replica = app.registry.config.replica.id
  t.equal(replica, `${hostname()}:5000`)
  const R = replica.replace(/[.]/g, '\\.')
  t.match(lines[0], /^TIME\s+USER\s+ACTION\s+PACK\s+TAG\s+DIGEST\s+REPLICA\s+DETAIL$/)
  t.equal(lines.length, 5, 'a header and four events from two pages')
  t.match(lines[1], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+admin\\s+create\\s+hellouniverse\\s+1\\.0\\.0\\s+${digest.slice(7, 19)}\\s+${R}\\s+-$`))
  t.match(lines[2], new RegExp(`\\s+admin\\s+update\\s+hellouniverse\\s+1\\.0\\.0\\s+[0-9a-f]{12}\\s+${R}\\s+forced from ${digest.slice(7, 19)}: two replicas$`))
  t.match(lines[3], new RegExp(`\\s+admin\\s+tag\\s+hellouniverse\\s+stable\\s+[0-9a-f]{12}\\s+${R}\\s+-$`))
  t.match(lines[4], new RegExp(`\\s+reader\\s+lockout\\s+-\\s+-\\s+-\\s+${R}\\s+2 failed logins from 10\\.0\\.0\\.7; locked for 15 min$`))

  const json = await cli(['events', '--output', 'json', '--pack', 'hellouniverse', '--since', '1h'])
  t.equal(json.code, 0, json.stderr)
  const parsed = JSON.parse(json.stdout) as { events: Array<{ action: string; user: string; repository: string; forced: boolean; message: string | null; replica: string | null }> }
  t.same(
    parsed.events.map((e) => [e.action, e.repository, e.forced, e.message, e.replica]),
    [
      ['create', 'hellouniverse', false, null, replica],
      ['update', 'hellouniverse', true, 'two replicas', replica],
      ['tag', 'hellouniverse', false, null, replica],
    ],
  )
  const byUser = await cli(['events', '-u', 'reader', '--output', 'json'])
  t.same((JSON.parse(byUser.stdout) as { events: Array<{ action: string }> }).events.map((e) => e.action), ['lockout'])
  // The forced push left the first version's archive (and files) unreferenced, within the grace
  // period of an hour. Collected through the server's database, so by this replica (an operator
  // command's events name none: test/cli/user-commands.test.ts).
  const { db, store, staging } = app.registry
  await collectGarbage(db, store, staging, { actor: 'ops', dryRun: false, graceMs: 3600_000 })
  const gc = await cli(['events', '-u', 'ops'])
  t.match(gc.stdout, /\s+ops\s+gc\s+-\s+-\s+-\s+\S+\s+removed 0 blobs \(0 B\) and 0 temp files; [1-9]\d* unreferenced blobs kept within the grace period\n$/)
  const future = await cli(['events', '--since', '2099-01-01', '--output', 'json'])
  t.same(JSON.parse(future.stdout), { events: [] })

  const badSince = await cli(['events', '--since', 'last week'])
  t.equal(badSince.code, 2)
  t.match(badSince.stderr, /^Error: --since must be a duration such as 90s, 15m or 24h, or a time such as 2026-11-23T06:00:00Z \(got "last week"\)\n\nUsage: packyard events/)

  const readerHome = join(tempDir(t), 'reader')
  t.equal((await runCliHere(['registry', 'login', S, '--insecure', '-s', readerHome, '--username', 'reader', '--password', USERS.reader], { env })).code, 0)
  const reader = await runCliHere(['events', '-s', readerHome], { env })
  t.equal(reader.code, 1)
  t.match(reader.stderr, /^Error: the event log is for writers only, and user reader is not one; ask an operator to add it to auth\.access\.writers\n$/)
})
