import t, { type Test as Tap } from 'tap'
import { execFileSync } from 'node:child_process'
import { appendFileSync, utimesSync, writeFileSync } from 'node:fs'
import { Authenticator, parseBasic } from '../../src/auth/authenticator.js'
import type { RegistryError } from '../../src/errors.js'
import { verifyPassword } from '../../src/auth/htpasswd.js'
import { LoginFailures } from '../../src/meta/login-failures.js'
import { PostgresDatabase } from '../../src/meta/postgres.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { freshDatabase, postgresUrl, privatePostgres, stopPostgres } from '../postgres.js'
import { basic, makeHtpasswd, tempDir, USERS } from '../helpers.js'

/** Failures counted in a database of the registry's own schema, as the server counts them. */
async function failureStore(t: Tap): Promise<LoginFailures> {
  const db = await SqliteDatabase.open(':memory:')
  t.teardown(() => db.close())
  return new LoginFailures(db)
}

async function make(t: Tap, path: string, maxFailures = 5) {
  return new Authenticator({ realm: 'r', htpasswdPath: path, writers: ['admin'], maxFailures, failureDelayMs: 0, failures: await failureStore(t) })
}

t.test('valid users, writers and read-only users', async (t) => {
  const auth = await make(t, makeHtpasswd(tempDir(t), USERS))
  await auth.load()
  t.same(await auth.authenticate(basic('admin', USERS.admin), '10.0.0.1'), { user: 'admin', writer: true })
  t.same(await auth.authenticate(basic('reader', USERS.reader), '10.0.0.1'), { user: 'reader', writer: false })
})

t.test('missing, malformed and wrong credentials get a Basic challenge', async (t) => {
  const auth = await make(t, makeHtpasswd(tempDir(t), USERS), 100)
  await auth.load()
  const cases = [undefined, '', 'Bearer abc', 'Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, basic('admin', 'wrong'), basic('nobody', 'x')]
  for (const header of cases) {
    await t.rejects(auth.authenticate(header, '10.0.0.2'), { code: 'UNAUTHORIZED', headers: { 'www-authenticate': 'Basic realm="r"' } }, String(header))
  }
})

t.test('verified credentials are cached; a changed password is not', async (t) => {
  const path = makeHtpasswd(tempDir(t), USERS)
  let calls = 0
  const auth = new Authenticator({
    realm: 'r',
    htpasswdPath: path,
    writers: ['admin'],
    maxFailures: 5,
    failureDelayMs: 0,
    failures: await failureStore(t),
    verify: (p, h) => {
      calls++
      return verifyPassword(p, h)
    },
  })
  await auth.load()
  await Promise.all(Array.from({ length: 10 }, () => auth.authenticate(basic('admin', USERS.admin), '1.1.1.1')))
  await auth.authenticate(basic('admin', USERS.admin), '1.1.1.1')
  t.equal(calls, 1, 'one bcrypt verification for 11 requests, concurrent ones shared')
  await t.rejects(auth.authenticate(basic('admin', 'nope'), '1.1.1.1'))
  await t.rejects(auth.authenticate(basic('admin', 'nope'), '1.1.1.1'))
  t.equal(calls, 3, 'failures are never cached')
})

t.test('the file is reloaded when it changes', async (t) => {
  const dir = tempDir(t)
  const path = makeHtpasswd(dir, { admin: 'one' })
  const auth = await make(t, path)
  await auth.load()
  await t.rejects(auth.authenticate(basic('newbie', 'two'), '2.2.2.2'))
  appendFileSync(path, execFileSync('htpasswd', ['-Bbn', 'newbie', 'two'], { encoding: 'utf8' }))
  const later = new Date(Date.now() + 5000)
  utimesSync(path, later, later)
  await new Promise((r) => setTimeout(r, 1100))
  t.same(await auth.authenticate(basic('newbie', 'two'), '2.2.2.2'), { user: 'newbie', writer: false })
  // A removed user is gone after the next reload, cache or not.
  writeFileSync(path, execFileSync('htpasswd', ['-Bbn', 'admin', 'one'], { encoding: 'utf8' }))
  await new Promise((r) => setTimeout(r, 1100))
  await t.rejects(auth.authenticate(basic('newbie', 'two'), '2.2.2.2'), { code: 'UNAUTHORIZED' })
})

t.test('failures lock out one user name from one address; other users and addresses keep working', async (t) => {
  const lockouts: unknown[] = []
  const auth = new Authenticator({
    realm: 'r',
    htpasswdPath: makeHtpasswd(tempDir(t), USERS),
    writers: ['admin'],
    maxFailures: 3,
    maxAddressFailures: 5,
    failureDelayMs: 0,
    failures: await failureStore(t),
    onLockout: (l) => lockouts.push(l),
  })
  await auth.load()
  for (let i = 0; i < 3; i++) await t.rejects(auth.authenticate(basic('admin', 'guess'), '6.6.6.6'), { code: 'UNAUTHORIZED' })
  const err = (await auth.authenticate(basic('admin', USERS.admin), '6.6.6.6').catch((e: unknown) => e)) as RegistryError
  t.equal(err.code, 'TOO_MANY_REQUESTS', 'the locked pair is refused even with the right password')
  t.match(err.message, /from 6\.6\.6\.6 as admin/)
  t.ok(Number(err.headers['retry-after']) > 0)
  t.same(await auth.authenticate(basic('reader', USERS.reader), '6.6.6.6'), { user: 'reader', writer: false }, "another user's correct password from the same address works")
  t.same(await auth.authenticate(basic('admin', USERS.admin), '7.7.7.7'), { user: 'admin', writer: true }, 'the same user from another address works')
  t.same(lockouts, [{ address: '6.6.6.6', user: 'admin', failures: 3, forMs: 15 * 60_000 }])

  // Many names guessed from one address reach the address's own ceiling.
  for (const name of ['a', 'b']) await t.rejects(auth.authenticate(basic(name, 'x'), '6.6.6.6'), { code: 'UNAUTHORIZED' })
  const whole = (await auth.authenticate(basic('reader', USERS.reader), '6.6.6.6').catch((e: unknown) => e)) as RegistryError
  t.equal(whole.code, 'TOO_MANY_REQUESTS', 'past the per-address ceiling the whole address waits')
  t.match(lockouts[1], { address: '6.6.6.6', user: null, failures: 5 })

  // A name that is no user (often a password typed in the wrong field) is never passed on as typed.
  for (let i = 0; i < 3; i++) await t.rejects(auth.authenticate(basic('hunter2-secret', 'x'), '8.8.8.8'), { code: 'UNAUTHORIZED' })
  t.match(lockouts[2], { address: '8.8.8.8', user: /^\(unknown user [0-9a-f]{12}\)$/, failures: 3 })
  t.notMatch(JSON.stringify(lockouts), /hunter2/)
})

t.test('two replicas on one PostgreSQL database: failures add up, a lockout holds on both, a login clears it', async (t) => {
  const url = await freshDatabase(t)
  const htpasswdPath = makeHtpasswd(tempDir(t), USERS)
  const replica = async () => {
    const db = await PostgresDatabase.open({ connectionString: url, max: 2, connectionTimeoutMillis: 5000 }, 'test')
    t.teardown(() => db.close())
    const lockouts: unknown[] = []
    const auth = new Authenticator({ realm: 'r', htpasswdPath, writers: ['admin'], maxFailures: 4, failureDelayMs: 0, lockoutRefreshMs: 0, failures: new LoginFailures(db), onLockout: (l) => lockouts.push(l) })
    await auth.load()
    return { auth, lockouts }
  }
  const [a, b] = [await replica(), await replica()]
  const fail = async (r: { auth: Authenticator }) => t.rejects(r.auth.authenticate(basic('admin', 'guess'), '9.9.9.9'), { code: 'UNAUTHORIZED' })
  for (let i = 0; i < 3; i++) await fail(a)
  t.same(await b.auth.authenticate(basic('admin', USERS.admin), '9.9.9.9'), { user: 'admin', writer: true }, 'below the limit a login works anywhere')
  for (let i = 0; i < 3; i++) await fail(a)
  t.same(await a.auth.authenticate(basic('admin', USERS.admin), '9.9.9.9'), { user: 'admin', writer: true }, "the login on B cleared A's three failures: three more are still below the limit")
  t.equal(a.lockouts.length + b.lockouts.length, 0)
  await Promise.all([a, b, a, b].map((r) => r.auth.authenticate(basic('admin', 'guess'), '9.9.9.9').catch((e: unknown) => e)))
  t.equal(a.lockouts.length + b.lockouts.length, 1, 'four failures spread over two replicas lock the pair once')
  for (const r of [a, b]) {
    await t.rejects(r.auth.authenticate(basic('admin', USERS.admin), '9.9.9.9'), { code: 'TOO_MANY_REQUESTS' }, 'refused on either replica, even with the right password')
  }
  t.same(await a.auth.authenticate(basic('admin', USERS.admin), '9.9.9.10'), { user: 'admin', writer: true }, 'another address is not locked')
})

t.test('while the database cannot count failures, they are counted in the process and logins keep working', async (t) => {
  const server = await privatePostgres(t)
  const db = await PostgresDatabase.open({ connectionString: postgresUrl(server), max: 2, connectionTimeoutMillis: 2000 }, 'test')
  t.teardown(() => db.close())
  const problems: string[] = []
  const auth = new Authenticator({
    realm: 'r', htpasswdPath: makeHtpasswd(tempDir(t), USERS), writers: ['admin'], maxFailures: 3, failureDelayMs: 0, lockoutRefreshMs: 0,
    failures: new LoginFailures(db), onProblem: (message) => problems.push(message),
  })
  await auth.load()
  await stopPostgres(server)
  for (let i = 0; i < 2; i++) await t.rejects(auth.authenticate(basic('admin', 'guess'), '5.5.5.5'), { code: 'UNAUTHORIZED' }, 'a wrong password is still a 401')
  t.same(await auth.authenticate(basic('reader', USERS.reader), '5.5.5.5'), { user: 'reader', writer: false }, 'a right one still gets in')
  for (let i = 0; i < 3; i++) await auth.authenticate(basic('admin', 'guess'), '5.5.5.6').catch((e: unknown) => e)
  await t.rejects(auth.authenticate(basic('admin', USERS.admin), '5.5.5.6'), { code: 'TOO_MANY_REQUESTS' }, 'and the lockout holds in this process')
  t.equal(problems.length, 1, 'said once')
  t.match(problems[0], /cannot count failed logins in the database/)
})

t.test('an unknown user name costs the same bcrypt work as a wrong password', async (t) => {
  const hashesChecked: string[] = []
  const auth = new Authenticator({
    realm: 'r',
    htpasswdPath: makeHtpasswd(tempDir(t), USERS),
    writers: ['admin'],
    maxFailures: 100,
    failureDelayMs: 0,
    failures: await failureStore(t),
    verify: (p, h) => {
      hashesChecked.push(h)
      return verifyPassword(p, h)
    },
  })
  await auth.load()
  await t.rejects(auth.authenticate(basic('admin', 'wrong'), '1.2.3.4'), { code: 'UNAUTHORIZED' })
  await t.rejects(auth.authenticate(basic('nobody', 'wrong'), '1.2.3.4'), { code: 'UNAUTHORIZED' })
  t.equal(hashesChecked.length, 2, 'one bcrypt check each')
  t.equal(hashesChecked[1]?.slice(4, 7), hashesChecked[0]?.slice(4, 7), 'the dummy hash has the cost of the real entries')
})

t.test('parseBasic', async (t) => {
  t.same(parseBasic(basic('u', 'p:q')), { user: 'u', password: 'p:q' })
  t.same(parseBasic(`basic ${Buffer.from('u:').toString('base64')}`), { user: 'u', password: '' })
  t.equal(parseBasic('Basic'), null)
})
