// kill -9 rounds. Mixed /v1 and /v2 writers push (new versions and forced re-pushes) while the
// server is killed with SIGKILL at a random moment; with the server down `packyard fsck`
// re-hashes every blob; then the server restarts on the same root and every acknowledged push
// is checked through the API (verify.ts: lost, dangling, corrupt, wrong parent tags). After the
// last round every tag is fetched again from scratch. A server that dies before it is killed
// counts as a crash. The kill-postgres category runs the same rounds with the metadata in
// PostgreSQL (a durable server, bench/postgres.ts), which outlives every kill of Packyard.

import { join } from 'node:path'
import { Prng } from '../random.js'
import type { ChaosContext } from './context.js'
import { withPostgres } from '../postgres.js'
import { type Figure, INFO, POSITIVE, ZERO } from './report.js'
import { ChaosServer, fsck } from './server.js'
import { Findings, type IntactCache, verifyLedger } from './verify.js'
import { Ledger, Writers } from './workload.js'

export function killCategory(ctx: ChaosContext): Promise<Figure[]> {
  return killRounds(ctx, 'kill -9')
}

export function killPostgresCategory(ctx: ChaosContext): Promise<Figure[]> {
  return withPostgres((databaseUrl) => killRounds(ctx, 'kill -9, metadata in PostgreSQL', databaseUrl))
}

async function killRounds(ctx: ChaosContext, category: string, databaseUrl?: string): Promise<Figure[]> {
  const { rounds, writers: writerCount, minMs, maxMs } = ctx.settings.kill
  const prng = new Prng('chaos-kill-timing')
  const ledger = new Ledger(ctx.detail)
  const writers = new Writers(ledger, ctx.dir, 'kill', writerCount)
  const server = await ChaosServer.start({ dir: ctx.dir, root: join(ctx.dir, 'root'), users: ctx.users, ...(databaseUrl ? { databaseUrl } : {}) })
  const findings = new Findings(ctx.detail)
  const cache: IntactCache = new Map()
  let crashes = 0
  let fsckProblems = 0
  let fsckFailures = 0
  const runFsck = async (when: string) => {
    const result = await fsck(server)
    if (result.problems === null) {
      fsckFailures++
      ctx.detail(`fsck ${when} did not run: ${result.output.slice(0, 300)}`)
    } else if (result.problems > 0) {
      fsckProblems += result.problems
      ctx.detail(`fsck ${when}: ${result.output.slice(0, 1000)}`)
    }
  }
  try {
    for (let round = 1; round <= rounds; round++) {
      let killed = false
      const running = writers.run(server, () => killed || server.death() !== null)
      await new Promise((resolve) => setTimeout(resolve, prng.int(minMs, maxMs)))
      const death = server.death()
      if (death !== null) {
        crashes++
        ctx.detail(`kill round ${round}: the server died before it was killed: ${death.slice(-500)}`)
      }
      killed = true
      await server.kill9()
      await running
      await runFsck(`after kill ${round}`)
      await server.restart()
      await verifyLedger(server, ledger, cache, findings)
      ctx.progress(
        `kill round ${round}/${rounds}: ${ledger.acknowledged} acknowledged so far; ${findings.lost} lost, ${findings.dangling.size} dangling, ${findings.corrupt.size} corrupt, ${findings.wrongParents.size} wrong parent tags`,
      )
    }
    await verifyLedger(server, ledger, new Map(), findings)
    await runFsck('after the last restart')
    const figures = (name: string, value: number, rule = ZERO): Figure => ({ category, name, value, rule })
    return [
      figures('rounds', rounds, POSITIVE),
      figures('pushes acknowledged', ledger.acknowledged, POSITIVE),
      figures('pushes cut off by a kill (no answer)', ledger.unanswered, INFO),
      figures('acknowledged pushes lost', findings.lost),
      figures('corrupt archives', findings.corrupt.size),
      figures('dangling tags (archives whose bytes, manifest or blobs are missing)', findings.dangling.size),
      figures('wrong parent tags', findings.wrongParents.size),
      figures('fsck problems', fsckProblems),
      figures('fsck runs that failed', fsckFailures),
      figures('pushes answered 5xx', ledger.serverErrors),
      figures('crashes (died before the kill)', crashes),
    ]
  } finally {
    await server.stop()
  }
}
