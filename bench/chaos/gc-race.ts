// Garbage collection racing pushes. The mixed /v1 and /v2 writers of the kill rounds push (new
// versions, and forced re-pushes that leave the replaced archives as garbage) while
// `packyard garbage-collect CONFIG` runs again and again in another process, as an operator's
// cron job would: first with `--grace 0s --force` (the most aggressive collection there is),
// then with the default grace. Afterwards every acknowledged push must pull back intact
// (verify.ts), `packyard fsck` must find every recorded blob, and no push may have been answered
// 5xx. A /v2 push refused with a 4xx is counted but allowed: with no grace, a blob uploaded but
// not yet referenced by a manifest is garbage by definition, and the client is told so. The
// gc-race-postgres category runs the same races with the metadata in PostgreSQL (a durable
// server, bench/postgres.ts), which the server and every garbage-collect process share. One
// race (gcRacePhase) is the same whether the writers push to the server or to a proxy in front
// of several replicas (replicas.ts).

import { join } from 'node:path'
import { withPostgres } from '../postgres.js'
import type { ChaosContext } from './context.js'
import { type Figure, INFO, POSITIVE, ZERO } from './report.js'
import { ChaosServer, fsck, runCli } from './server.js'
import { Findings, verifyOnEach } from './verify.js'
import { Ledger, Writers } from './workload.js'


export interface Phase {
  label: string
  args: string[]
  seconds: number
}

export function gcRaceCategory(ctx: ChaosContext): Promise<Figure[]> {
  return gcRaces(ctx, 'GC racing pushes')
}

export function gcRacePostgresCategory(ctx: ChaosContext): Promise<Figure[]> {
  return withPostgres((databaseUrl) => gcRaces(ctx, 'GC racing pushes, metadata in PostgreSQL', databaseUrl))
}

async function gcRaces(ctx: ChaosContext, category: string, databaseUrl?: string): Promise<Figure[]> {
  const { writers: writerCount, graceZeroSeconds, defaultGraceSeconds } = ctx.settings.gc
  const server = await ChaosServer.start({ dir: ctx.dir, root: join(ctx.dir, 'root'), users: ctx.users, ...(databaseUrl ? { databaseUrl } : {}) })
  const figures: Figure[] = []
  try {
    const phases: Phase[] = [
      { label: 'grace 0', args: ['--grace', '0s', '--force'], seconds: graceZeroSeconds },
      { label: 'default grace', args: [], seconds: defaultGraceSeconds },
    ]
    for (const phase of phases) {
      const writers = (ledger: Ledger) => new Writers(ledger, ctx.dir, phase.label === 'grace 0' ? 'gc0' : 'gcd', writerCount)
      figures.push(...(await gcRacePhase(ctx, category, phase, { target: server, servers: [server], writers })))
      if (server.death() !== null) await server.restart()
    }
    return figures
  } finally {
    await server.stop()
  }
}

export interface RaceSetup {
  /** where the writers push: the server, or the proxy in front of the replicas */
  target: Pick<ChaosServer, 'admin'>
  /** the servers every acknowledged push must pull back intact from; the first one's config runs the commands */
  servers: ChaosServer[]
  /** the phase's writers, on the phase's ledger */
  writers: (ledger: Ledger) => Writers
}

/**
 * One race: the writers push through `target` while `packyard garbage-collect` runs again and
 * again with the phase's arguments, then the checks and the phase's figures. A ledger and pack
 * names per phase, so each phase's figures are its own.
 */
export async function gcRacePhase(ctx: ChaosContext, category: string, phase: Phase, setup: RaceSetup): Promise<Figure[]> {
  const figures: Figure[] = []
  const figure = (name: string, value: number, rule = ZERO) => figures.push({ category, name, value, rule })
  const [first] = setup.servers as [ChaosServer]
  const ledger = new Ledger(ctx.detail)
  const writers = setup.writers(ledger)
  const deaths = () => setup.servers.map((s) => s.death()).filter((d) => d !== null)
  let stop = false
  let runs = 0
  let failures = 0
  let blobsRemoved = 0
  const collect = async () => {
    while (!stop) {
      const run = await runCli(['garbage-collect', first.config, ...phase.args], ctx.dir)
      runs++
      const removed = /^removed: (\d+) blobs?\b/m.exec(run.stdout)
      if (run.code !== 0 || !removed) {
        failures++
        if (failures <= 3) ctx.detail(`garbage-collect ${phase.args.join(' ')} exited ${run.code}: ${`${run.stdout}${run.stderr}`.trim().slice(0, 300)}`)
        // A command that cannot run at all would otherwise spin; wait as a cron job would.
        await new Promise((resolve) => setTimeout(resolve, 500))
      } else {
        blobsRemoved += Number(removed[1])
      }
    }
  }
  const pushing = writers.run(setup.target, () => stop || deaths().length > 0)
  const collecting = collect()
  await new Promise((resolve) => setTimeout(resolve, phase.seconds * 1000))
  stop = true
  await Promise.all([pushing, collecting])
  const findings = new Findings(ctx.detail)
  await verifyOnEach(setup.servers, ledger, findings)
  const check = await fsck(first)
  if (check.problems !== 0) ctx.detail(`fsck after the ${phase.label} race${check.problems === null ? ' could not run' : ''}: ${check.output.slice(0, 1000)}`)
  const crashes = deaths()
  for (const crash of crashes) ctx.detail(`a server died during the ${phase.label} race: ${crash.slice(-500)}`)
  ctx.progress(`GC race, ${phase.label}: ${ledger.acknowledged} acknowledged, ${runs} collections removed ${blobsRemoved} blobs; ${findings.lost} lost`)
  figure(`${phase.label}: pushes acknowledged`, ledger.acknowledged, POSITIVE)
  figure(`${phase.label}: acknowledged pushes lost`, findings.lost)
  figure(`${phase.label}: acknowledged pushes that do not pull back intact`, findings.dangling.size + findings.corrupt.size)
  figure(`${phase.label}: wrong parent tags`, findings.wrongParents.size)
  figure(`${phase.label}: pushes answered 5xx`, ledger.serverErrors)
  figure(`${phase.label}: pushes refused with 4xx`, ledger.refused, INFO)
  // fsck failing to run at all counts as a problem: the store could not be checked.
  figure(`${phase.label}: fsck problems`, check.problems ?? 1)
  figure(`${phase.label}: garbage-collect runs`, runs, INFO)
  figure(`${phase.label}: garbage-collect runs that failed`, failures)
  figure(`${phase.label}: blobs collected`, blobsRemoved, INFO)
  figure(`${phase.label}: crashes`, crashes.length)
  return figures
}
