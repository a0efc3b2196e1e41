// `packyard serve` with database.url: a server it cannot use stops the start within
// database.connecttimeout, naming the host and PostgreSQL's error and never the password; a
// working one serves, says where its metadata is (without the password) and records itself in
// the replicas table.

import t from 'tap'
import { join } from 'node:path'
import { Client } from 'pg'
import { VERSION } from '../../src/version.js'
import { makeHtpasswd, runBin, startServer, tempDir, USERS } from '../helpers.js'
import { freshDatabase, privatePostgres, stopPostgres } from '../postgres.js'

function env(dir: string, url: string): NodeJS.ProcessEnv {
  return {
    REGISTRY_HTTP_ADDR: '127.0.0.1:0',
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'),
    REGISTRY_AUTH_HTPASSWD_REALM: 'test',
    REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(dir, USERS),
    REGISTRY_DATABASE_URL: url,
    REGISTRY_DATABASE_CONNECTTIMEOUT: '2s',
    REGISTRY_LOG_FORMATTER: 'json',
  }
}

t.test('wrong credentials, and a server that is down: the start stops, naming the host, never the password', async (t) => {
  const server = await privatePostgres(t)
  const good = new URL(await freshDatabase(t, server))
  const wrong = new URL(good)
  wrong.password = 'not-the-password-3f9a'
  const refused = await runBin(['serve'], { env: env(tempDir(t), wrong.toString()) })
  t.not(refused.code, 0)
  const said = refused.stdout + refused.stderr
  t.match(said, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${server.port}`), 'names the host')
  t.match(said, /password authentication failed/, "and PostgreSQL's error")
  t.notMatch(said, /not-the-password-3f9a/, 'never the password')

  await stopPostgres(server, 'fast')
  const started = Date.now()
  const down = await runBin(['serve'], { env: env(tempDir(t), good.toString()) })
  t.not(down.code, 0)
  t.match(down.stdout + down.stderr, /cannot be reached/)
  t.notMatch(down.stdout + down.stderr, new RegExp(server.password))
  t.ok(Date.now() - started < 15_000, `gave up within the connect timeout (${Date.now() - started} ms)`)
})

t.test('a working database: the server starts, logs where the metadata is (without the password) and records itself as a replica', async (t) => {
  const url = await freshDatabase(t)
  const running = await startServer(t, [], { ...env(tempDir(t), url), REGISTRY_REPLICA_ID: 'replica-1', REGISTRY_REPLICA_ADDRESS: 'http://10.0.0.7:5000' })
  const starting = running.logs().find((line) => line.msg === 'starting packyard')
  t.ok(starting, 'the start line')
  t.equal(starting?.database, url.replace(/:[^:@/]*@/, ':***@'))
  t.equal(starting?.replica, 'replica-1')
  t.equal((await fetch(`${running.url}/health`)).status, 200)
  const client = new Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const { rows } = await client.query<{ id: string; address: string; version: string }>('SELECT id, address, version FROM replicas')
  t.same(rows, [{ id: 'replica-1', address: 'http://10.0.0.7:5000', version: VERSION }], 'its row, written once it was ready')
})
