// packyard migrate-metadata, run in process: a SQLite registry moved into an empty PostgreSQL
// database and verified (the table of row counts, "verified", exit 0), the URL taken from
// REGISTRY_DATABASE_URL when --to is absent, an occupied target and a running server refused,
// and the database password never shown, whatever happens.

import t, { type Test } from 'tap'
import { join } from 'node:path'
import { openDatabase } from '../../src/meta/db.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { lockDatabase } from '../../src/store/root-lock.js'
import { runCliHere } from '../helpers.js'
import { freshDatabase } from '../postgres.js'
import { tempDir, type Teardown } from '../system.js'
import { fillRegistry } from '../meta/transfer-rows.js'

async function sqliteRegistry(t: Teardown): Promise<string> {
  const file = join(tempDir(t), 'registry.db')
  const db = await SqliteDatabase.open(file)
  await fillRegistry(db)
  await db.close()
  return file
}

function noPassword(t: Test, url: string, text: string): void {
  const password = decodeURIComponent(new URL(url).password)
  t.ok(password.length > 0, 'the test URL has a password')
  t.notOk(text.includes(password), 'the password is never shown')
}

t.test('copies, verifies and prints the row counts', async (t) => {
  const file = await sqliteRegistry(t)
  const url = await freshDatabase(t)
  const run = await runCliHere(['migrate-metadata', '--from', `sqlite:${file}`, '--to', url])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /Source: .*registry\.db \(SQLite/)
  t.match(run.stdout, /Target: postgres:\/\/packyard:\*\*\*@/)
  t.match(run.stdout, /^tags\s+6\s+6$/m)
  t.match(run.stdout, /^manifests\s+3\s+3$/m)
  t.match(run.stdout, /^verified: /m)
  noPassword(t, url, run.stdout + run.stderr)

  const pg = await openDatabase({ kind: 'postgres', url, pool: 1, connectTimeoutMs: 10_000, tls: { ca: null, cert: null, key: null } })
  t.teardown(() => pg.close())
  t.same(await pg.prepare('SELECT name FROM repositories ORDER BY id').all(), [{ name: 'hello' }, { name: 'library/busybox' }])

  const again = await runCliHere(['migrate-metadata', '--from', `sqlite:${file}`], { env: { REGISTRY_DATABASE_URL: url } })
  t.equal(again.code, 1, 'a target that is not empty is refused (the URL from REGISTRY_DATABASE_URL)')
  t.match(again.stderr, /is not empty: table repositories has rows/)
  t.notMatch(again.stdout, /verified/)
  noPassword(t, url, again.stdout + again.stderr)
})

t.test('a server holding the database is refused', async (t) => {
  const file = await sqliteRegistry(t)
  const url = await freshDatabase(t)
  const lock = await lockDatabase(file, { purpose: 'serve on 127.0.0.1:5000' })
  t.teardown(() => lock.release())
  const run = await runCliHere(['migrate-metadata', '--from', `sqlite:${file}`, '--to', url])
  t.equal(run.code, 1)
  t.match(run.stderr, /another Packyard process is using the database .*serve on 127\.0\.0\.1:5000.*The server must be stopped/s)
  noPassword(t, url, run.stdout + run.stderr)
})

t.test('bad arguments', async (t) => {
  const url = await freshDatabase(t)
  const missing = await runCliHere(['migrate-metadata', '--to', url])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--from sqlite:PATH is required/)
  const wrong = await runCliHere(['migrate-metadata', '--from', '/tmp/x.db', '--to', url])
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /--from must be sqlite:PATH/)
  const noTo = await runCliHere(['migrate-metadata', '--from', 'sqlite:/tmp/x.db'])
  t.equal(noTo.code, 2)
  t.match(noTo.stderr, /--to postgres:\/\/\.\.\. is required \(or set REGISTRY_DATABASE_URL\)/)
  const notPg = await runCliHere(['migrate-metadata', '--from', 'sqlite:/tmp/x.db', '--to', 'mysql://u:hunter2@h/db'])
  t.equal(notPg.code, 2)
  t.notOk(notPg.stderr.includes('hunter2'), 'a refused URL is shown without its password')
  const absent = await runCliHere(['migrate-metadata', '--from', `sqlite:${join(tempDir(t), 'none.db')}`, '--to', url])
  t.equal(absent.code, 1)
  t.match(absent.stderr, /none\.db does not exist/)
  const help = await runCliHere(['migrate-metadata', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Stop the server first/)
  for (const r of [missing, wrong, noTo, absent]) noPassword(t, url, r.stdout + r.stderr)
})
