// The log as a person reads it: one line per request whose message says what happened (a push
// and its outcome, a refusal and why, a tag, a delete), with the request's fields; levels as
// words; health checks at debug; the lockout warning; nothing of a password or an
// Authorization header; and the text format of log.formatter.

import t from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/server.js'
import { ADMIN, basic, captureStream, testApp, USERS } from '../helpers.js'
import { archive, get, packFiles, push } from '../pack-fixtures.js'

type Line = Record<string, unknown> & { level: string; msg: string }

/** A logger like the server's, writing JSON lines (or `formatter`) into a capture. */
function capturedLogger(formatter = 'json', terminal = false, level = 'debug') {
  const output = captureStream()
  const logger = createLogger(loadConfig({ doc: { log: { level, formatter } }, env: {} }), output, terminal)
  const lines = () =>
    output
      .text()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line)
  return { logger, output, lines }
}

t.test('a push, a refusal, a tag, an untag and a delete each get one line saying what happened', async (t) => {
  const { logger, output, lines } = capturedLogger()
  const app = await testApp(t, {}, { logger })
  const tgz = await archive(packFiles())
  const created = await push(app, tgz)
  t.equal(created.statusCode, 201)
  const digest = created.json().digest as string

  const pushed = lines().filter((l) => l.msg.startsWith('pushed '))
  t.equal(pushed.length, 1, 'one line for the push')
  const line = pushed[0] as Line
  t.match(line.msg, /^pushed hellouniverse:1\.0\.0 \(created, \d+ B\) by admin$/)
  t.match(line, { level: 'info', user: 'admin', method: 'POST', route: '/v1/_packs', url: '/v1/_packs', status: 201, outcome: 'created', digest, ip: '127.0.0.1', service: 'registry' })
  t.type(line.reqId, 'string')
  t.type(line.ms, 'number')
  t.ok((line.bytesIn as number) > tgz.length, 'the bytes that came in')
  t.equal(lines().filter((l) => l.reqId === line.reqId).length, 1, 'and no other line for that request')

  t.equal((await push(app, tgz)).statusCode, 409)
  t.match(lines().at(-1), { level: 'info', status: 409, error: 'TAG_EXISTS', msg: /^push refused by admin: 409 TAG_EXISTS: hellouniverse:1\.0\.0 already exists/ })

  const tag = await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN }, payload: { ref: '1.0.0' } })
  t.equal(tag.statusCode, 201)
  t.equal(lines().at(-1)?.msg, 'tagged hellouniverse:1.0.0 as hellouniverse:stable by admin')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN } })).statusCode, 200)
  t.equal(lines().at(-1)?.msg, `deleted tag hellouniverse:stable (was ${digest.slice(0, 19)}) by admin`)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)
  t.equal(lines().at(-1)?.msg, `deleted hellouniverse 1.0.0 (${digest.slice(0, 19)}) and its tags 1.0.0 by admin`)

  t.equal((await get(app, '/v1/_packs')).statusCode, 200)
  t.match(lines().at(-1), { level: 'info', route: '/v1/_packs', status: 200, msg: /^GET \/v1\/_packs 200 in [\d.]+ ms by admin$/ })
  t.equal((await get(app, '/v1/_packs/nothing')).statusCode, 404)
  t.match(lines().at(-1), { msg: 'GET /v1/_packs/nothing by admin: 404 NAME_UNKNOWN: there is no pack named nothing in this registry', error: 'NAME_UNKNOWN' })

  t.equal((await app.inject({ url: '/health' })).statusCode, 200)
  t.match(lines().at(-1), { level: 'debug', route: '/health', status: 200 })
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: ADMIN } })).statusCode, 200)
  t.match(lines().at(-1), { level: 'debug', route: '/metrics' })

  t.notMatch(output.text(), /Basic [A-Za-z0-9+/=]{8,}/, 'no Authorization header')
  t.notMatch(output.text(), USERS.admin, 'no password')
  t.notMatch(output.text(), /"level":\d/, 'levels are words')
})

t.test('a lockout is one warning naming the address and the user', async (t) => {
  const { logger, output, lines } = capturedLogger('json', false, 'info')
  const app = await testApp(t, { limits: { loginfailures: 3 } }, { logger })
  const wrong = { url: '/v1/', remoteAddress: '10.0.0.7', headers: { authorization: basic('admin', 'not-the-password') } }
  for (let i = 0; i < 3; i++) t.equal((await app.inject(wrong)).statusCode, 401)
  t.equal((await app.inject(wrong)).statusCode, 429)
  const locked = lines().filter((l) => l.msg.startsWith('login locked'))
  t.equal(locked.length, 1, 'once, when it starts')
  t.match(locked[0], { level: 'warn', address: '10.0.0.7', user: 'admin', failures: 3, lockoutSeconds: 900, msg: 'login locked for 10.0.0.7/admin after 3 failures, for 15 min (counted in the database: every replica refuses it)' })
  t.match(lines().filter((l) => l.status === 401)[0], { ip: '10.0.0.7', msg: 'GET /v1/: 401 UNAUTHORIZED: invalid username or password' })
  t.match(lines().at(-1), { status: 429, msg: /^GET \/v1\/: 429 TOO_MANY_REQUESTS: too many failed logins from 10\.0\.0\.7 as admin/ })
  t.notMatch(output.text(), 'not-the-password')
})

t.test('log.formatter: text writes readable lines; auto follows the terminal; json and logstash write JSON', async (t) => {
  const text = capturedLogger('text')
  const app = await testApp(t, {}, { logger: text.logger })
  t.equal((await push(app, await archive(packFiles()))).statusCode, 201)
  const pushed = text.output
    .text()
    .split('\n')
    .find((l) => l.includes('pushed '))
  t.match(pushed, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: pushed hellouniverse:1\.0\.0 \(created, \d+ B\) by admin \{.*"status":201/)
  t.notMatch(text.output.text(), /\x1b\[/, 'no colours when the output is not a terminal')
  t.equal((await push(app, await archive(packFiles()))).statusCode, 409)
  const refused = text.output.text().split('\n').filter((l) => l.includes('push refused'))
  t.equal(refused.length, 1)
  t.match(refused[0], /INFO: push refused by admin: 409 TAG_EXISTS: .*"error":"TAG_EXISTS"/, 'one line, the error code among the fields')

  for (const [formatter, terminal, json] of [
    ['auto', true, false],
    ['auto', false, true],
    ['json', true, true],
    ['logstash', false, true],
  ] as const) {
    const { logger, output } = capturedLogger(formatter, terminal)
    logger.info({ password: 'secret' }, 'hello')
    t.equal(output.text().startsWith('{'), json, `${formatter} ${terminal ? 'on' : 'off'} a terminal`)
    t.notMatch(output.text(), 'secret', 'the password is redacted')
  }
})
