// Many open upload sessions. One writer asks for thousands of upload sessions
// (POST /v2/<name>/blobs/uploads/) as fast as it can and never sends a byte, as the issue's
// 20,000 sessions in 37 s did. The per-user cap (limits.uploadsessions) must hold: never more
// sessions open than the cap (counted in the database, read beside the server, while the flood
// runs), no staged file for a refused request, every
// request past it answered 429 TOOMANYREQUESTS naming the key, none 5xx, and the server's
// resident memory must stay bounded. A cancelled session frees a place; and the sessions that
// never received a byte are purged after storage.maintenance.uploadpurging.emptyage, so the
// writer can upload again without anyone's help.

import Database from 'better-sqlite3'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { send } from '../http.js'
import type { ChaosContext } from './context.js'
import { below, type Figure, INFO, POSITIVE, TRUE, ZERO } from './report.js'
import { ChaosServer } from './server.js'
import { ANY_STATUS } from './workload.js'

const CATEGORY = 'many open upload sessions'
const EMPTY_AGE_S = 3
// The growth of the server's resident memory over the flood; the issue measured +53 MB for
// 20,000 sessions kept open.
const RSS_GROWTH_BOUND_MB = 60

export async function uploadSessionsCategory(ctx: ChaosContext): Promise<Figure[]> {
  const { sessions, concurrency, cap } = ctx.settings.uploadSessions
  const root = join(ctx.dir, 'root')
  const server = await ChaosServer.start({
    dir: ctx.dir,
    root,
    users: ctx.users,
    limits: { uploadsessions: cap },
    uploadPurging: { emptyage: `${EMPTY_AGE_S}s` },
  })
  const staged = () => {
    const dir = join(root, 'uploads')
    return existsSync(dir) ? readdirSync(dir).length : 0
  }
  // A reader beside the server (WAL): what is open is what the database says.
  const db = new Database(join(root, 'registry.db'), { readonly: true })
  const countOpen = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM upload_sessions')
  const openNow = () => (countOpen.get() as { n: number }).n
  const url = '/v2/chaos/flood/blobs/uploads/'
  try {
    const rssBefore = server.samplePeak()
    let accepted = 0
    let capped = 0
    let unnamed = 0
    let serverErrors = 0
    let other = 0
    let mostOpen = 0
    let sent = 0
    const started = Date.now()
    const worker = async () => {
      while (sent < sessions) {
        sent++
        const answer = await send(server.admin, { method: 'POST', url, expect: ANY_STATUS })
        if (answer.status === 202) accepted++
        else if (answer.status === 429) {
          capped++
          if (!answer.body.toString('utf8').includes('"TOOMANYREQUESTS"') || !answer.body.toString('utf8').includes('limits.uploadsessions')) {
            if (unnamed++ < 3) ctx.detail(`upload sessions: a 429 that names neither TOOMANYREQUESTS nor limits.uploadsessions: ${answer.body.toString('utf8', 0, 300)}`)
          }
        } else if (answer.status >= 500) {
          if (serverErrors++ < 5) ctx.detail(`upload sessions: POST answered ${answer.status}: ${answer.body.toString('utf8', 0, 300)}`)
        } else if (other++ < 5) ctx.detail(`upload sessions: POST answered ${answer.status}: ${answer.body.toString('utf8', 0, 300)}`)
      }
    }
    let mostStaged = 0
    const sampling = setInterval(() => {
      mostOpen = Math.max(mostOpen, openNow())
      mostStaged = Math.max(mostStaged, staged())
      server.samplePeak()
    }, 20)
    await Promise.all(Array.from({ length: concurrency }, worker))
    clearInterval(sampling)
    mostOpen = Math.max(mostOpen, openNow())
    const seconds = (Date.now() - started) / 1000
    const rssGrowth = server.samplePeak() - rssBefore
    ctx.progress(`upload sessions: ${sessions} asked for in ${seconds.toFixed(1)} s: ${accepted} opened, ${capped} refused with 429, at most ${mostOpen} open (${mostStaged} staged files); RSS +${rssGrowth.toFixed(0)} MB`)

    // A cancelled session frees a place at once.
    const open = readdirSync(join(root, 'uploads'))
    const cancel = await send(server.admin, { method: 'DELETE', url: `${url}${open[0]}`, expect: ANY_STATUS })
    const again = await send(server.admin, { method: 'POST', url, expect: ANY_STATUS })
    const freed = cancel.status === 204 && again.status === 202
    if (!freed) ctx.detail(`upload sessions: cancelling a session answered ${cancel.status}, and the next session ${again.status}`)

    // Sessions that never received a byte go after emptyage (looked at every emptyage/2).
    const purgeStarted = Date.now()
    while (staged() > 0 && Date.now() - purgeStarted < 4 * EMPTY_AGE_S * 1000) await new Promise((r) => setTimeout(r, 200))
    const purged = staged() === 0
    const afterPurge = await send(server.admin, { method: 'POST', url, expect: ANY_STATUS })
    if (!purged || afterPurge.status !== 202) ctx.detail(`upload sessions: ${staged()} sessions left ${((Date.now() - purgeStarted) / 1000).toFixed(1)} s after the flood; a new session answered ${afterPurge.status}`)

    const crash = server.death()
    if (crash !== null) ctx.detail(`upload sessions: the server died: ${crash.slice(-500)}`)
    const figure = (name: string, value: number | boolean, rule = ZERO, unit?: string): Figure => ({ category: CATEGORY, name, value, rule, ...(unit ? { unit } : {}) })
    return [
      figure('sessions asked for by one writer', sessions, POSITIVE),
      figure('sessions opened', accepted, INFO),
      figure(`most sessions open at once (cap ${cap})`, mostOpen, below(cap + 1)),
      figure('most staged files at once', mostStaged, INFO),
      figure('refused with 429', capped, POSITIVE),
      figure('429s that name neither TOOMANYREQUESTS nor limits.uploadsessions', unnamed),
      figure('answered 5xx', serverErrors),
      figure('answered anything else', other),
      figure('server RSS growth over the flood', rssGrowth, below(RSS_GROWTH_BOUND_MB), 'MB'),
      figure('a cancelled session frees a place', freed, TRUE),
      figure(`empty sessions purged within ${4 * EMPTY_AGE_S} s (emptyage ${EMPTY_AGE_S} s), the writer unblocked`, purged && afterPurge.status === 202, TRUE),
      figure('crashes', crash === null ? 0 : 1),
    ]
  } finally {
    db.close()
    await server.stop()
  }
}
