// database.url, .pool, .connecttimeout and .tls.*: SQLite by default, PostgreSQL from the file or
// REGISTRY_DATABASE_URL, and every bad URL refused naming the key without showing the password.

import t from 'tap'
import { join } from 'node:path'
import { databaseHost, redactDatabaseUrl } from '../../src/config/database.js'
import { ConfigError } from '../../src/config/leaf.js'
import { loadConfig } from '../../src/config/load.js'

const FS = { storage: { filesystem: { rootdirectory: '/srv/p' } } }

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('no ConfigError')
}

const withUrl = (url: string, more: Record<string, unknown> = {}) => loadConfig({ doc: { ...FS, database: { url, ...more } }, env: {} })

t.test('default: SQLite at database.path, storage.databasePath unchanged', async (t) => {
  const c = loadConfig({ doc: FS, env: {} })
  t.same(c.database, { kind: 'sqlite', path: join('/srv/p', 'registry.db') })
  t.equal(c.storage.databasePath, join('/srv/p', 'registry.db'))
  const own = loadConfig({ doc: { ...FS, database: { path: '/var/lib/meta.db' } }, env: {} })
  t.same(own.database, { kind: 'sqlite', path: '/var/lib/meta.db' })
  const memory = loadConfig({ doc: { storage: 'inmemory' }, env: {} })
  t.same(memory.database, { kind: 'sqlite', path: ':memory:' })
})

t.test('a postgres URL with its defaults, and every key from the environment', async (t) => {
  const c = withUrl('postgres://reg:s3cret@db.example.com:5433/packyard?sslmode=verify-full')
  t.same(c.database, { kind: 'postgres', url: 'postgres://reg:s3cret@db.example.com:5433/packyard?sslmode=verify-full', pool: 10, connectTimeoutMs: 10_000, tls: { ca: null, cert: null, key: null } })
  t.equal(c.storage.databasePath, join('/srv/p', 'registry.db'), 'the SQLite path stays as it was (the local data directory with S3 hangs on it)')

  const env = {
    REGISTRY_DATABASE_URL: 'postgresql://reg@/packyard?host=/run/postgresql&sslmode=verify-full',
    REGISTRY_DATABASE_POOL: '32',
    REGISTRY_DATABASE_CONNECTTIMEOUT: '2s',
    REGISTRY_DATABASE_TLS_CA: '/etc/ca.pem',
    REGISTRY_DATABASE_TLS_CERT: '/etc/client.pem',
    REGISTRY_DATABASE_TLS_KEY: '/etc/client.key',
  }
  const e = loadConfig({ doc: FS, env })
  t.same(e.database, { kind: 'postgres', url: env.REGISTRY_DATABASE_URL, pool: 32, connectTimeoutMs: 2000, tls: { ca: '/etc/ca.pem', cert: '/etc/client.pem', key: '/etc/client.key' } })
  t.match(configError(() => loadConfig({ doc: FS, env: { REGISTRY_DATABASE_URLS: 'x' } })).message, /did you mean REGISTRY_DATABASE_URL\?/)
})

t.test('URLs node-postgres reads are accepted: IPv6, no port, a socket in ?host=, an encoded password', async (t) => {
  for (const url of ['postgres://u:p@[::1]/d', 'postgres://u@h', 'postgres:///d?host=/tmp/sock', 'postgres://u:p%2F%40x@h:1/d?application_name=packyard']) {
    t.equal(withUrl(url).database.kind, 'postgres', url)
  }
})

t.test('bad URLs name the key and the problem, never the password', async (t) => {
  const cases: [string, RegExp][] = [
    ['mysql://u:hunter2@h/d', /must be a postgres:\/\/ or postgresql:\/\/ URL, not mysql:\/\//],
    ['u:hunter2@db.example.com:5432/d', /must be a URL such as postgres:\/\//],
    ['host=db user=u password=hunter2 dbname=d', /must be a URL such as postgres:\/\//],
    ['postgres://u:hunter2@/d', /names no host/],
    ['postgres://u:hunter2@h:99999/d', /is not a valid URL/],
    ['postgres://u:hunter2@h/d?port=0', /port "0" is not a port number/],
    ['postgres://u:hunt/er2@h/d', /is not a valid URL/],
    ['postgres://u:hunter2@h/d?sslmode=allow', /sslmode=allow is not one of .*cannot fall back/],
    ['postgres://u:hunter2@h/d?sslmode=verify', /sslmode=verify is not one of/],
    ['postgres://u:hunter2@h/d?sslrootcert=/ca.pem', /sslrootcert parameter is not supported: set database.tls.ca/],
    ['postgres://u@h/d?password=hunter2&ssl=true', /ssl parameter is not supported/],
    ['postgres://u:hunter2@h/d?sslnegotiation=direct', /sslnegotiation=direct needs to be postgres, or direct with sslmode=require/],
  ]
  for (const [url, reason] of cases) {
    const err = configError(() => withUrl(url))
    t.equal(err.key, 'database.url', url)
    t.match(err.message, reason, url)
    t.notMatch(err.message, /hunt/, `no password in: ${err.message}`)
    t.match(err.message, /\*\*\*/, 'the password shown as ***')
  }
  const env = configError(() => loadConfig({ doc: FS, env: { REGISTRY_DATABASE_URL: 'http://admin:hunter2@h/d' } }))
  t.equal(env.key, 'database.url')
  t.notMatch(env.message, /hunter2/)
})

t.test('pool, connecttimeout and the TLS files are checked', async (t) => {
  const url = 'postgres://u:p@h/d?sslmode=verify-full'
  t.match(configError(() => withUrl(url, { pool: 0 })), { key: 'database.pool', message: /between 1 and 1000/ })
  t.match(configError(() => withUrl(url, { pool: 1001 })), { key: 'database.pool' })
  t.match(configError(() => withUrl(url, { pool: 3 })), { key: 'database.pool', message: /is 3, but work that runs one replica at a time .* set at least 4/ })
  t.equal(loadConfig({ doc: { ...FS, database: { url, pool: 4 } }, env: {} }).database.kind, 'postgres', 'four leave room for requests beside one-at-a-time work')
  const endpoints = [{ name: 'a', url: 'http://a.example/hook' }, { name: 'b', url: 'http://b.example/hook' }, { name: 'c', url: 'http://c.example/hook', disabled: true }]
  t.match(configError(() => loadConfig({ doc: { ...FS, database: { url, pool: 5 }, notifications: { endpoints } }, env: {} })), {
    key: 'database.pool',
    message: /each of 2 notification endpoints holds one connection .* set at least 6/,
  })
  t.match(configError(() => withUrl(url, { connecttimeout: 'soon' })), { key: 'database.connecttimeout', message: /duration/ })
  t.match(configError(() => withUrl(url, { connecttimeout: '0s' })), { key: 'database.connecttimeout', message: /longer than 0s/ })
  t.match(configError(() => withUrl(url, { tls: { cert: '/c.pem' } })), { key: 'database.tls.key', message: /both database.tls.cert and database.tls.key/ })
  t.match(configError(() => withUrl(url, { tls: { key: '/k.pem' } })), { key: 'database.tls.cert' })
  t.match(configError(() => withUrl('postgres://u:p@h/d', { tls: { ca: '/ca.pem' } })), { key: 'database.tls.ca', message: /no sslmode.*sslmode=verify-full/ })
  t.match(configError(() => withUrl('postgres://u:p@h/d?sslmode=disable', { tls: { ca: '/ca.pem' } })), { key: 'database.tls.ca', message: /sslmode=disable/ })
  t.match(configError(() => withUrl('postgres://u:p@h/d?sslmode=verify-ca')), { key: 'database.tls.ca', message: /verify-ca needs the CA/ })
  t.match(configError(() => loadConfig({ doc: { ...FS, database: { tls: { ca: '/ca.pem' } } }, env: {} })), { key: 'database.tls.ca', message: /database.url is empty/ })
  t.equal(withUrl('postgres://u:p@h/d?sslmode=verify-ca', { tls: { ca: '/ca.pem', cert: '/c', key: '/k' } }).database.kind, 'postgres')
  t.equal(withUrl('postgres://u:p@h/d?sslmode=verify-full&sslnegotiation=direct').database.kind, 'postgres')
})

t.test('redactDatabaseUrl and databaseHost', async (t) => {
  t.equal(redactDatabaseUrl('postgres://reg:s3cret@db:5432/p'), 'postgres://reg:***@db:5432/p')
  t.equal(redactDatabaseUrl('postgres://reg:a@b/c@db/p'), 'postgres://reg:***@db/p', 'an unencoded @ or / in the password is hidden whole')
  t.equal(redactDatabaseUrl('postgres://reg@db/p?password=s3cret&sslmode=require'), 'postgres://reg@db/p?password=***&sslmode=require')
  t.equal(redactDatabaseUrl('postgres://reg:a@db/p?sslpassword=keypass&sslmode=require'), 'postgres://reg:***@db/p?sslpassword=***&sslmode=require', 'sslpassword too')
  t.equal(redactDatabaseUrl('postgres://reg@db/p?passwordless=1'), 'postgres://reg@db/p?passwordless=1', 'only a parameter named ...password')
  t.equal(redactDatabaseUrl('postgres://db/p'), 'postgres://db/p')
  t.equal(databaseHost('postgres://reg:s3cret@db.example.com/p'), 'db.example.com:5432')
  t.equal(databaseHost('postgres://reg:s3cret@[::1]:6000/p'), '[::1]:6000')
  t.equal(databaseHost('postgres://reg:s3cret@/p?host=/run/postgresql'), '/run/postgresql')
})
