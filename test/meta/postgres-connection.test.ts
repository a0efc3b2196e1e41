// postgresPoolSettings against a real PostgreSQL with TLS on (a throwaway CA, test/postgres.ts):
// verify-full with database.tls.ca connects over TLS, without the CA it fails on the certificate,
// a client certificate is presented, disable and a Unix socket stay plain; plus the settings
// themselves, unreadable TLS files, and the module not loading pg.

import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { Pool } from 'pg'
import t from 'tap'
import { ConfigError } from '../../src/config/leaf.js'
import { type PostgresDatabase, postgresPoolSettings } from '../../src/meta/postgres-connection.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { freshDatabase, postgresUrl, privatePostgres } from '../postgres.js'

t.setTimeout(120_000)

const NO_TLS = { ca: null, cert: null, key: null }

function database(url: string, tls: PostgresDatabase['tls'] = NO_TLS): PostgresDatabase {
  return { kind: 'postgres', url, pool: 2, connectTimeoutMs: 5000, tls }
}

/** This connection's row of pg_stat_ssl, through a pool built from the settings. */
async function sslOfConnection(db: PostgresDatabase): Promise<{ ssl: boolean; client_dn: string | null }> {
  const pool = new Pool(postgresPoolSettings(db))
  try {
    const { rows } = await pool.query<{ ssl: boolean; client_dn: string | null }>('SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
    return rows[0] as { ssl: boolean; client_dn: string | null }
  } finally {
    await pool.end()
  }
}

t.test('against a server with TLS on', async (t) => {
  const server = await privatePostgres(t, { tls: true })
  const tls = server.tls as NonNullable<typeof server.tls>
  const url = postgresUrl(server)
  const withCa = { ...NO_TLS, ca: tls.ca }

  t.test('verify-full with database.tls.ca: TLS, the certificate checked', async (t) => {
    t.match(await sslOfConnection(database(`${url}?sslmode=verify-full`, withCa)), { ssl: true, client_dn: null })
    const byName = url.replace('@127.0.0.1:', '@localhost:')
    t.match(await sslOfConnection(database(`${byName}?sslmode=verify-full`, withCa)), { ssl: true }, 'by DNS name too')
  })

  t.test('a client certificate from database.tls.cert and key is presented', async (t) => {
    const row = await sslOfConnection(database(`${url}?sslmode=verify-full`, { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey }))
    t.match(row, { ssl: true, client_dn: '/CN=packyard' })
  })

  t.test('verify-full and verify-ca without the CA fail on the certificate', async (t) => {
    for (const mode of ['verify-full', 'verify-ca']) {
      // verify-ca without a CA is refused by the config; built by hand it checks against the system CAs.
      const err = (await sslOfConnection(database(`${url}?sslmode=${mode}`)).catch((e: unknown) => e)) as NodeJS.ErrnoException
      t.ok(err instanceof Error, mode)
      t.match(err.code, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE/, `${mode}: ${err.message}`)
    }
  })

  t.test('verify-full checks the name, verify-ca only the chain', async (t) => {
    // 127.1 reaches 127.0.0.1 (inet_aton's short form) but is a name the certificate does not hold.
    const otherName = url.replace('@127.0.0.1:', '@127.1:')
    const err = (await sslOfConnection(database(`${otherName}?sslmode=verify-full`, withCa)).catch((e: unknown) => e)) as NodeJS.ErrnoException
    t.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID', err.message)
    t.match(await sslOfConnection(database(`${otherName}?sslmode=verify-ca`, withCa)), { ssl: true })
    t.match(await sslOfConnection(database(`${otherName}?sslmode=require`, withCa)), { ssl: true }, 'require with a CA is verify-ca, as in libpq')
    const selfSigned = (await sslOfConnection(database(`${url}?sslmode=require`, { ...NO_TLS, ca: tls.clientCert })).catch((e: unknown) => e)) as NodeJS.ErrnoException
    t.match(selfSigned.code, /UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/, `require checks the chain against the CA given: ${selfSigned.message}`)
  })

  t.test('verify-ca with the CA, require and prefer without it: TLS', async (t) => {
    t.match(await sslOfConnection(database(`${url}?sslmode=verify-ca`, withCa)), { ssl: true })
    t.match(await sslOfConnection(database(`${url}?sslmode=require`)), { ssl: true }, 'require does not check the certificate')
    t.match(await sslOfConnection(database(`${url}?sslmode=prefer`)), { ssl: true })
  })

  t.test('disable, no sslmode, and a Unix socket: plain', async (t) => {
    t.match(await sslOfConnection(database(`${url}?sslmode=disable`)), { ssl: false })
    t.match(await sslOfConnection(database(url)), { ssl: false })
    const socket = `postgres://packyard@/postgres?host=${encodeURIComponent(server.dir)}&port=${server.port}&sslmode=verify-full`
    t.match(await sslOfConnection(database(socket, withCa)), { ssl: false }, 'TLS is never tried over a Unix socket')
  })
})

t.test('the settings: the URL\'s parts, pool size and wait, no connection string', async (t) => {
  const settings = postgresPoolSettings({ ...database('postgresql://reg:p%40ss@db.example.com:6543/meta?application_name=packyard&sslmode=require'), pool: 25, connectTimeoutMs: 1500 })
  t.match(settings, { host: 'db.example.com', port: 6543, user: 'reg', password: 'p@ss', database: 'meta', application_name: 'packyard', max: 25, connectionTimeoutMillis: 1500, ssl: { rejectUnauthorized: false } })
  t.notOk('connectionString' in settings)
  t.notOk('sslmode' in settings, 'sslmode is applied, not passed on')
  const socket = postgresPoolSettings(database('postgres://reg@/meta?host=/run/postgresql&sslmode=verify-full'))
  t.match(socket, { host: '/run/postgresql', database: 'meta', ssl: false })
})

t.test('an unreadable TLS file is a ConfigError naming the key and the path', async (t) => {
  const missing = join(PACKAGE_ROOT, 'no-such-ca.pem')
  const err = (() => {
    try {
      postgresPoolSettings(database('postgres://u:p@h/d?sslmode=verify-full', { ...NO_TLS, ca: missing }))
    } catch (e) {
      return e
    }
    return undefined
  })()
  t.ok(err instanceof ConfigError)
  t.match(err, { key: 'database.tls.ca', message: new RegExp(`cannot read ${missing} \\(ENOENT\\)`) })
})

t.test('loading the module does not load pg', async (t) => {
  const module = join(PACKAGE_ROOT, 'dist', 'src', 'meta', 'postgres-connection.js')
  const script = `require(${JSON.stringify(module)}); console.log(Object.keys(require.cache).filter((f) => /node_modules[\\\\/]pg[\\\\/]/.test(f)).length)`
  t.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), '0')
})

t.test("the server gives up on a dead replica's session within seconds: TCP keepalives set for every connection, the URL's own options kept", async (t) => {
  const url = await freshDatabase(t)
  const pool = new Pool(postgresPoolSettings(database(`${url}?options=-c%20statement_timeout%3D60000`)))
  t.teardown(() => pool.end())
  const { rows } = await pool.query<Record<string, string>>(
    "SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval, current_setting('tcp_keepalives_count') AS count, current_setting('tcp_user_timeout') AS user_timeout, current_setting('statement_timeout') AS statement",
  )
  t.same(rows[0], { idle: '10', interval: '5', count: '3', user_timeout: '30000', statement: '1min' })
})
