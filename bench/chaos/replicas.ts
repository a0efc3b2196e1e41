// Several replicas behind a load balancer (issue 23): three Packyard processes sharing one
// filesystem root and one durable PostgreSQL (bench/postgres.ts), each with its own directory,
// config and port, behind nginx (test/nginx.ts: round-robin, no stickiness, no replica ever
// marked down, so a dead replica's connections are refused and nginx passes the request to the
// next one). The writers of the kill and GC categories (workload.ts) push through nginx.
//
// replicas-kill: one replica, picked at random, is killed with SIGKILL every few seconds and
// restarted after a short pause, while the writers push. A push whose replica dies under it is
// answered 502 by nginx: the writer sends it again (bounded, with a back-off), as real clients
// do, and the ledger counts it once (workload.ts says how). Afterwards every acknowledged push
// must be present and byte-identical through each replica directly (verify.ts, each replica
// fetching everything afresh), `packyard fsck` with the shared config must be clean, no push may
// have been answered 5xx by Packyard (nginx's 502s for cut-off requests are counted apart), and
// no replica may die before it is killed. Then the upload sessions: the writers have stopped, so
// every session still open is one no client will finish (its push was cut off); each must be
// one a purge removes. A fourth replica on the same root and database purges with age and
// emptyage 1 s every second, and the sessions that have neither gone from upload_sessions nor
// from `<root>/uploads` by the time every claim a replica recorded on them has lapsed plus
// PURGE_WAIT_MS are the unfinishable ones.
//
// replicas-gc-race: no kills; `packyard garbage-collect --grace 0s --force` runs again and again
// as a command against the shared config (garbage collection on one replica, for the database's
// one-at-a-time lock is per database) while the writers push through nginx to all three; the
// race and its figures are gc-race.ts's (gcRacePhase), checked on every replica.

import { readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from 'pg'
import { startNginx } from '../../test/nginx.js'
import { endpoint } from '../http.js'
import { withPostgres } from '../postgres.js'
import { Prng } from '../random.js'
import type { ChaosContext } from './context.js'
import { gcRacePhase } from './gc-race.js'
import { type Figure, INFO, POSITIVE, ZERO } from './report.js'
import { ChaosServer, fsck } from './server.js'
import { Findings, verifyOnEach } from './verify.js'
import { Ledger, type RetryPolicy, Writers } from './workload.js'

const REPLICAS = 3
// Six attempts over about 4 s: longer than a replica takes to die and be routed around.
const RETRY: RetryPolicy = { attempts: 6, backoffMs: 250 }
// How long after the last claim lapsed the purging replica gets to remove every session.
const PURGE_WAIT_MS = 15_000

interface ReplicaSet {
  replicas: ChaosServer[]
  /** nginx in front of them: the admin's keep-alive endpoint there */
  front: Pick<ChaosServer, 'admin'>
  root: string
  databaseUrl: string
}

/** Runs `use` with REPLICAS replicas on one root and one database, behind nginx; stops them all after. */
async function withReplicas<T>(ctx: ChaosContext, use: (set: ReplicaSet) => Promise<T>): Promise<T> {
  return withPostgres(async (databaseUrl) => {
    const root = join(ctx.dir, 'root')
    const teardowns: Array<() => void | Promise<void>> = []
    const replicas: ChaosServer[] = []
    try {
      const start = (i: number) => ChaosServer.start({ dir: join(ctx.dir, `replica-${i}`), root, users: ctx.users, databaseUrl })
      // The first migrates the empty database; the others, started together, find it done.
      replicas.push(await start(1))
      const others = await Promise.allSettled(Array.from({ length: REPLICAS - 1 }, (_, i) => start(i + 2)))
      for (const o of others) if (o.status === 'fulfilled') replicas.push(o.value)
      for (const o of others) if (o.status === 'rejected') throw o.reason
      const nginx = await startNginx({ teardown: (fn) => void teardowns.push(fn) }, replicas.map((r) => new URL(r.base).host))
      const { user, password } = ctx.users.admin
      const front = { admin: endpoint('nginx', nginx.url, user, password, 16) }
      ctx.progress(`${REPLICAS} replicas up behind nginx (${nginx.url})`)
      try {
        return await use({ replicas, front, root, databaseUrl })
      } finally {
        front.admin.agent.destroy()
      }
    } finally {
      for (const replica of replicas) await replica.stop()
      for (const teardown of teardowns.reverse()) await teardown()
    }
  })
}

export function replicasKillCategory(ctx: ChaosContext): Promise<Figure[]> {
  const category = 'replicas behind nginx, kill -9'
  const { writers: writerCount, kills, minMs, maxMs, downMs } = ctx.settings.replicas
  return withReplicas(ctx, async (set) => {
    const prng = new Prng('chaos-replicas-kill')
    const ledger = new Ledger(ctx.detail)
    const writers = new Writers(ledger, ctx.dir, 'rk', writerCount, RETRY)
    let crashes = 0
    // A replica that died by itself is counted once and started again, so the run goes on.
    const restartCrashed = async () => {
      for (const [i, replica] of set.replicas.entries()) {
        const death = replica.death()
        if (death === null) continue
        crashes++
        ctx.detail(`replica ${i + 1} died before it was killed: ${death.slice(-500)}`)
        await replica.restart()
      }
    }
    let stop = false
    const pushing = writers.run(set.front, () => stop)
    try {
      for (let kill = 1; kill <= kills; kill++) {
        await new Promise((resolve) => setTimeout(resolve, prng.int(minMs, maxMs)))
        await restartCrashed()
        const victim = prng.int(0, REPLICAS - 1)
        await (set.replicas[victim] as ChaosServer).kill9()
        await new Promise((resolve) => setTimeout(resolve, downMs))
        await (set.replicas[victim] as ChaosServer).restart()
        ctx.progress(`replicas-kill: kill ${kill}/${kills} (replica ${victim + 1}): ${ledger.acknowledged} acknowledged, ${ledger.cutOff} attempts cut off, ${ledger.serverErrors} answered 5xx by Packyard`)
      }
    } finally {
      stop = true
      await pushing
    }
    await restartCrashed()

    const findings = new Findings(ctx.detail)
    await verifyOnEach(set.replicas, ledger, findings)
    ctx.progress(`replicas-kill: every acknowledged push checked through each replica`)
    const check = await fsck(set.replicas[0] as ChaosServer)
    if (check.problems !== 0) ctx.detail(`fsck after the kills${check.problems === null ? ' could not run' : ''}: ${check.output.slice(0, 1000)}`)
    ctx.progress(`replicas-kill: fsck found ${check.problems ?? 'no answer:'} problems`)
    const sessions = await purgeLeftSessions(ctx, set)
    if (sessions.crash !== null) {
      crashes++
      ctx.detail(`the purging replica died: ${sessions.crash.slice(-500)}`)
    }
    await restartCrashed()
    ctx.progress(
      `replicas-kill: ${ledger.acknowledged} acknowledged; ${findings.lost} lost, ${findings.dangling.size} dangling, ${findings.corrupt.size} corrupt, ${findings.wrongParents.size} wrong parent tags; ${sessions.open} sessions left open, ${sessions.left} not purged`,
    )
    const figure = (name: string, value: number, rule = ZERO): Figure => ({ category, name, value, rule })
    return [
      figure('replicas (one root, one PostgreSQL, behind nginx)', REPLICAS, INFO),
      figure('replicas killed and restarted', kills, POSITIVE),
      figure('pushes acknowledged', ledger.acknowledged, POSITIVE),
      figure('push attempts cut off by a kill (502 from nginx, or no answer)', ledger.cutOff, INFO),
      figure('attempts sent again after one was cut off', ledger.retries, INFO),
      figure('pushes acknowledged by a 409 naming their own archive (the cut-off attempt had committed)', ledger.confirmedByConflict, INFO),
      figure('pushes refused with 4xx after a cut-off attempt (left pending)', ledger.refusedAfterCutOff, INFO),
      figure(`pushes still unanswered after ${RETRY.attempts} attempts (left pending)`, ledger.unanswered, INFO),
      figure('pushes refused with 4xx', ledger.refused, INFO),
      figure('acknowledged pushes lost or different on a replica', findings.lost),
      figure('corrupt archives', findings.corrupt.size),
      figure('dangling tags (archives whose bytes, manifest or blobs are missing)', findings.dangling.size),
      figure('wrong parent tags', findings.wrongParents.size),
      figure('fsck problems (fsck that could not run: 1)', check.problems ?? 1),
      figure('pushes answered 5xx by Packyard', ledger.serverErrors),
      figure('crashes (a replica that died before it was killed)', crashes),
      figure('upload sessions left open by cut-off pushes', sessions.open, INFO),
      figure('upload sessions no purge removes (rows and staged files left)', sessions.left),
    ]
  })
}

export function replicasGcRaceCategory(ctx: ChaosContext): Promise<Figure[]> {
  const { writers: writerCount, gcSeconds } = ctx.settings.replicas
  return withReplicas(ctx, (set) =>
    gcRacePhase(
      ctx,
      'replicas behind nginx, GC racing pushes',
      { label: 'grace 0', args: ['--grace', '0s', '--force'], seconds: gcSeconds },
      { target: set.front, servers: set.replicas, writers: (ledger) => new Writers(ledger, ctx.dir, 'rgc', writerCount) },
    ),
  )
}

/**
 * Starts a purging replica (age and emptyage 1 s, every second) on the set's root and database
 * and waits until upload_sessions and `<root>/uploads` are empty, or until PURGE_WAIT_MS after
 * the last claim a replica recorded on a session lapsed. `open`: sessions there at the start;
 * `left`: session rows plus staged files still there at the end; `crash`: why the purging
 * replica died, if it did.
 */
async function purgeLeftSessions(ctx: ChaosContext, set: ReplicaSet): Promise<{ open: number; left: number; crash: string | null }> {
  const db = new Client({ connectionString: set.databaseUrl })
  await db.connect()
  const staged = () => {
    const dir = join(set.root, 'uploads')
    return existsSync(dir) ? readdirSync(dir).length : 0
  }
  const rows = async () => {
    const r = await db.query<{ n: string; until: string }>('SELECT COUNT(*) AS n, COALESCE(MAX(claimed_until), 0) AS until FROM upload_sessions')
    const row = r.rows[0] as { n: string; until: string }
    return { n: Number(row.n), until: Number(row.until) }
  }
  try {
    const before = await rows()
    const open = Math.max(before.n, staged())
    const purger = await ChaosServer.start({
      dir: join(ctx.dir, 'purger'),
      root: set.root,
      users: ctx.users,
      databaseUrl: set.databaseUrl,
      uploadPurging: { age: '1s', emptyage: '1s', interval: '1s' },
    })
    try {
      const deadline = Math.max(Date.now(), before.until) + PURGE_WAIT_MS
      let now = await rows()
      while ((now.n > 0 || staged() > 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        now = await rows()
      }
      const left = now.n + staged()
      if (left > 0) {
        const ids = await db.query<{ id: string; size: string; claimed_by: string | null; claimed_until: string }>('SELECT id, size, claimed_by, claimed_until FROM upload_sessions LIMIT 5')
        ctx.detail(`upload sessions: ${now.n} rows and ${staged()} staged files left ${PURGE_WAIT_MS / 1000} s after the last claim lapsed, with a replica purging at age 1 s; first rows: ${JSON.stringify(ids.rows)}`)
      }
      return { open, left, crash: purger.death() }
    } finally {
      await purger.stop()
    }
  } finally {
    await db.end()
  }
}
