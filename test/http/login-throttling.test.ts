// Login throttling through the HTTP stack (the reliability issue's defect 5): a misconfigured
// client behind a shared address locks out only its own user name, and behind a trusted proxy
// the address that counts is the client's, from X-Forwarded-For.

import t from 'tap'
import { ADMIN, basic, READER, testApp } from '../helpers.js'

const wrongAdmin = basic('admin', 'not the password')

t.test('behind a trusted proxy, failures count against the forwarded client address and user', async (t) => {
  const app = await testApp(t, { http: { trustedproxies: ['127.0.0.0/8'] }, limits: { loginfailures: 3 } })
  const from = (client: string, authorization: string) =>
    app.inject({ url: '/v1/', remoteAddress: '127.0.0.1', headers: { authorization, 'x-forwarded-for': client } })
  for (let i = 0; i < 3; i++) t.equal((await from('10.9.9.9', wrongAdmin)).statusCode, 401)
  const locked = await from('10.9.9.9', ADMIN)
  t.equal(locked.statusCode, 429)
  t.match(locked.json().errors[0].message, /from 10\.9\.9\.9 as admin/)
  t.equal((await from('10.9.9.9', READER)).statusCode, 200, "Palette's read-only user from the same client still gets in")
  t.equal((await from('10.9.9.10', ADMIN)).statusCode, 200, 'another client behind the same proxy is not locked out')
})

t.test('without trusted proxies X-Forwarded-For is ignored', async (t) => {
  const app = await testApp(t, { limits: { loginfailures: 2 } })
  for (let i = 0; i < 2; i++) {
    await app.inject({ url: '/v1/', remoteAddress: '192.0.2.7', headers: { authorization: wrongAdmin, 'x-forwarded-for': `10.0.0.${i}` } })
  }
  const locked = await app.inject({ url: '/v1/', remoteAddress: '192.0.2.7', headers: { authorization: ADMIN, 'x-forwarded-for': '10.0.0.99' } })
  t.equal(locked.statusCode, 429)
  t.match(locked.json().errors[0].message, /from 192\.0\.2\.7 as admin/)
})

t.test('a malformed http.trustedproxies entry stops start-up naming it and the form it takes', async (t) => {
  await t.rejects(testApp(t, { http: { trustedproxies: ['10.0.0.0/33'] } }), /http\.trustedproxies: "10\.0\.0\.0\/33" is not an IP address \(10\.0\.0\.7\) or a CIDR block/)
  await t.rejects(testApp(t, { http: { trustedproxies: ['0.0.0.0/0'] } }), /^config: http\.trustedproxies: "0\.0\.0\.0\/0" is not .*prefix length is 1 to 32/)
  const wide = await testApp(t, { http: { trustedproxies: ['0.0.0.0/1', '128.0.0.0/1'] } })
  t.equal((await wide.inject({ url: '/health' })).statusCode, 200, 'two /1 blocks, the widest accepted, start')
})
