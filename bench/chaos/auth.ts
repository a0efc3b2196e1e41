// Brute-force logins against a server of their own (a lockout lasts 15 minutes and would spoil
// any other category). Client addresses are spread over 127.0.0.0/8, so "one address" and
// "many addresses" are both real:
// - attempts before lockout: wrong passwords for admin from one address until the answer is 429;
// - whether the read-only user's correct password still works from that address (it must:
//   behind a proxy or NAT every client shares one address);
// - whether a forged X-Forwarded-For from a client that is not a trusted proxy escapes the
//   lockout (it must not), and whether a trusted proxy's X-Forwarded-For is believed (it must);
// - the timing gap between an unknown user and a wrong password: from back-to-back pairs, each
//   login from a fresh address so that no slow-down for repeated failures applies.

import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { ChaosContext } from './context.js'
import { describe, type Outcome, probe } from './probe.js'
import { below, type Figure, INFO, TRUE, ZERO } from './report.js'
import { authorization, ChaosServer, type User } from './server.js'

const CATEGORY = 'auth'
const ATTACKER = '127.0.0.50'
const PROXY = '127.0.0.99'
// How long the lockout search may take: failures are slowed down on purpose.
const LOCKOUT_SEARCH_MS = 40_000

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function status(o: Outcome): number {
  return o.kind === 'answered' ? o.status : 0
}

export async function authCategory(ctx: ChaosContext): Promise<Figure[]> {
  const { admin, reader } = ctx.users
  const server = await ChaosServer.start({ dir: ctx.dir, root: join(ctx.dir, 'root'), users: ctx.users, http: { trustedproxies: [`${PROXY}/32`] } })
  const login = (user: User, localAddress: string, headers: Record<string, string> = {}) =>
    probe(server.base, { method: 'GET', path: '/v1/', headers: { authorization: authorization(user), ...headers }, localAddress })
  const wrong = { user: admin.user, password: `not-${admin.password}` }
  try {
    // Timing first, before any address has a failure on record. Samples come in pairs, one of
    // each kind back to back (which goes first alternates), each from a fresh address; the gap
    // is the median of the pairs' differences over the median wrong-password time, so load from
    // elsewhere on the machine, which hits both halves of a pair alike, cancels out.
    const samples = ctx.settings.auth.timingSamples
    const unknownMs: number[] = []
    const wrongMs: number[] = []
    const differences: number[] = []
    let unexpected = 0
    let address = 0
    const timed = async (user: User): Promise<number | null> => {
      address++
      const o = await login(user, `127.0.${10 + (address >> 8)}.${address & 255}`)
      if (status(o) === 401) return o.ms
      unexpected++
      ctx.detail(`auth timing: a failed login got ${describe(o)}`)
      return null
    }
    // The first pairs warm up (JIT, bcrypt tables, connection paths) and are not counted.
    for (let i = -3; i < samples; i++) {
      const nobody = { user: `nobody-${randomBytes(4).toString('hex')}`, password: 'x' }
      let u: number | null
      let w: number | null
      if (i % 2 === 0) {
        u = await timed(nobody)
        w = await timed(wrong)
      } else {
        w = await timed(wrong)
        u = await timed(nobody)
      }
      if (i < 0 || u === null || w === null) continue
      unknownMs.push(u)
      wrongMs.push(w)
      differences.push(u - w)
    }
    const unknownMedian = median(unknownMs)
    const wrongMedian = median(wrongMs)
    const gap = (Math.abs(median(differences)) / wrongMedian) * 100
    ctx.progress(`auth: unknown user ${unknownMedian.toFixed(2)} ms, wrong password ${wrongMedian.toFixed(2)} ms (medians of ${samples}); gap ${gap.toFixed(1)} %`)

    let attempts = 0
    let locked = false
    const started = Date.now()
    while (attempts < ctx.settings.auth.maxAttempts && Date.now() - started < LOCKOUT_SEARCH_MS) {
      const o = await login(wrong, ATTACKER)
      if (status(o) === 429) {
        locked = true
        break
      }
      if (status(o) !== 401) {
        unexpected++
        ctx.detail(`auth lockout: a wrong password got ${describe(o)}`)
      }
      attempts++
    }
    ctx.progress(`auth: ${locked ? `locked out after ${attempts} failed attempts` : `no lockout after ${attempts} attempts`}`)
    const otherUser = await login(reader, ATTACKER)
    const sameUser = await login(admin, ATTACKER)
    const otherAddress = await login(admin, '127.0.0.51')
    // A client that is not a trusted proxy cannot pick its address: the lockout must hold.
    const forged = await login(wrong, ATTACKER, { 'x-forwarded-for': '198.51.100.7' })
    // The trusted proxy's word is taken: the locked client behind it stays locked, another is free.
    const viaProxyLocked = await login(wrong, PROXY, { 'x-forwarded-for': ATTACKER })
    const viaProxyOther = await login(reader, PROXY, { 'x-forwarded-for': '198.51.100.8' })
    if (status(otherUser) !== 200) ctx.detail(`auth: the read-only user's correct password from the locked address got ${describe(otherUser)}`)
    if (locked && status(forged) !== 429) ctx.detail(`auth: a forged X-Forwarded-For from the locked address got ${describe(forged)}`)
    if (locked && (status(viaProxyLocked) !== 429 || status(viaProxyOther) !== 200)) {
      ctx.detail(`auth: through the trusted proxy, the locked client got ${describe(viaProxyLocked)}; another client got ${describe(viaProxyOther)}`)
    }
    const crash = server.death()
    if (crash !== null) ctx.detail(`auth: the server died: ${crash.slice(-500)}`)
    const figure = (name: string, value: number | boolean | null, rule = ZERO, unit?: string): Figure => ({ category: CATEGORY, name, value, rule, ...(unit ? { unit } : {}) })
    return [
      figure('failed attempts before lockout (one address, one user)', locked ? attempts : null, INFO),
      figure('locked out within the attempts tried', locked, TRUE),
      figure("another user's correct password works from the locked address", status(otherUser) === 200, TRUE),
      figure('correct password of the locked user from the locked address: status', status(sameUser), INFO),
      figure('correct password from another address works', status(otherAddress) === 200, TRUE),
      figure('a forged X-Forwarded-For does not lift the lockout', locked ? status(forged) === 429 : null, TRUE),
      figure("trusted proxy's X-Forwarded-For is believed", locked ? status(viaProxyLocked) === 429 && status(viaProxyOther) === 200 : null, TRUE),
      figure('unknown user, median', unknownMedian, INFO, 'ms'),
      figure('wrong password, median', wrongMedian, INFO, 'ms'),
      figure('timing gap, unknown user vs wrong password', gap, below(20), '%'),
      figure('failed logins answered other than 401/429', unexpected),
      figure('crashes', crash === null ? 0 : 1),
    ]
  } finally {
    await server.stop()
  }
}
