// `npm run chaos [-- --quick] [-- --only=bad-input,kill,gc-race,full-disk,auth,bombs,...]`: the
// reliability campaign. Each category starts its own Packyard (`node bin/packyard.js serve
// CONFIG` on a free loopback port, htpasswd auth, a scratch root) and attacks it: bad input on
// every route, kill -9 under concurrent writers, garbage collection racing pushes, a full disk,
// brute-force logins, compression bombs on every path that inflates an archive (with the
// server CPU time per request bounded), damaged backups, a second server on one database, a
// flood of upload sessions, notifications delivered through kill -9 rounds, the kill -9 and
// GC-race categories again with the metadata in PostgreSQL, and three replicas on one root and
// one PostgreSQL behind nginx, killed one at a time and racing garbage collection while writers
// push through nginx (replicas.ts). It prints one table of figures, writes
// bench/results/chaos.json (chaos-quick.json for --quick, chaos-partial.json for --only) and
// exits 1 when a figure that must be 0 is not, or a figure that must hold does not. Whatever
// happens, every server is killed (PostgreSQL and nginx too, see bench/postgres.ts and
// test/nginx.ts), the tmpfs is unmounted and the scratch directory is removed.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { onlyParts, unknownArgument, UsageError } from '../args.js'
import { killAllNow, requireProgram } from '../registries.js'
import { authCategory } from './auth.js'
import { backupsCategory } from './backups.js'
import { badInputCategory } from './bad-input.js'
import { bombsCategory } from './bombs.js'
import { type ChaosContext, FULL, QUICK } from './context.js'
import { fullDiskCategory, unmountAllNow } from './full-disk.js'
import { gcRaceCategory, gcRacePostgresCategory } from './gc-race.js'
import { killCategory, killPostgresCategory } from './kill.js'
import { notificationsCategory } from './notifications.js'
import { replicasGcRaceCategory, replicasKillCategory } from './replicas.js'
import { failed, type Figure, table, TRUE, writeResults } from './report.js'
import { createUsers } from './server.js'
import { sharedDatabaseCategory } from './shared-database.js'
import { uploadSessionsCategory } from './upload-sessions.js'

// In the issue's order; --only keeps this order whatever order it is given.
const CATEGORIES: Record<string, (ctx: ChaosContext) => Promise<Figure[]>> = {
  'bad-input': badInputCategory,
  kill: killCategory,
  'gc-race': gcRaceCategory,
  'full-disk': fullDiskCategory,
  auth: authCategory,
  bombs: bombsCategory,
  backups: backupsCategory,
  'shared-database': sharedDatabaseCategory,
  'upload-sessions': uploadSessionsCategory,
  notifications: notificationsCategory,
  // The kill -9 and GC-race categories again, with the metadata in PostgreSQL.
  'kill-postgres': killPostgresCategory,
  'gc-race-postgres': gcRacePostgresCategory,
  // Three replicas on one root and one PostgreSQL behind nginx (issue 23).
  'replicas-kill': replicasKillCategory,
  'replicas-gc-race': replicasGcRaceCategory,
}

const USAGE = `usage: npm run chaos -- [--quick] [--only=${Object.keys(CATEGORIES).join(',')}]
  --quick  smaller counts, about three minutes on two cores (CI runs this)
  --only   run only these categories (figures go to bench/results/chaos-partial.json)`


function parseArgs(argv: string[]): { quick: boolean; only: string[] } {
  const options = { quick: false, only: Object.keys(CATEGORIES) }
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true
    else if (arg.startsWith('--only=')) options.only = onlyParts(arg.slice('--only='.length), Object.keys(CATEGORIES), 'category')
    else throw unknownArgument(arg)
  }
  return options
}

async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv)
  const settings = options.quick ? QUICK : FULL
  const started = process.hrtime.bigint()
  const startedAt = new Date()
  const elapsed = () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1).padStart(6)
  const progress = (message: string) => process.stderr.write(`[${elapsed()} s] ${message}\n`)
  requireProgram('htpasswd', 'sudo apt-get install apache2-utils')

  const work = mkdtempSync(join(tmpdir(), 'packyard-chaos-'))
  const cleanUp = () => {
    killAllNow()
    unmountAllNow()
    rmSync(work, { recursive: true, force: true })
  }
  process.on('exit', cleanUp)
  const users = createUsers(work)
  const figures: Figure[] = []
  const details: Record<string, string[]> = {}
  for (const name of options.only) {
    const dir = join(work, name)
    mkdirSync(dir)
    const lines: string[] = []
    details[name] = lines
    progress(`${name}: starting`)
    const ctx: ChaosContext = { settings, dir, users, detail: (line) => lines.push(line), progress }
    const category = CATEGORIES[name] as (c: ChaosContext) => Promise<Figure[]>
    try {
      figures.push(...(await category(ctx)))
    } catch (err) {
      // A category that cannot finish (its server would not start, its setup was refused) is a
      // failure of its own; the other categories still run and the table still prints.
      lines.push(`the category stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      figures.push({ category: name, name: 'category completed', value: false, rule: TRUE })
      progress(`${name}: stopped: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const partial = options.only.length < Object.keys(CATEGORIES).length
  const file = join(PACKAGE_ROOT, 'bench', 'results', options.quick ? 'chaos-quick.json' : partial ? 'chaos-partial.json' : 'chaos.json')
  writeResults(file, { mode: options.quick ? 'quick' : 'full', categories: options.only, startedAt, seconds, settings }, figures, details)
  process.stdout.write(`\n${table(figures)}\n\n`)
  const failures = failed(figures)
  // What lies behind the figures: the first findings of each category (all are in the JSON file).
  for (const [name, lines] of Object.entries(details)) {
    if (lines.length === 0) continue
    process.stderr.write(`\n${name}: ${lines.length} findings, the first ones:\n${lines.slice(0, 15).map((l) => `  ${l.replace(/\s+/g, ' ').slice(0, 400)}`).join('\n')}\n`)
  }
  progress(`done in ${seconds.toFixed(0)} s; ${failures.length === 0 ? 'every figure holds' : `${failures.length} figures FAIL`}; figures and findings in ${file}`)
  return failures.length === 0 ? 0 : 1
}

main(process.argv.slice(2)).then(
  // Explicitly: a keep-alive socket or timer left behind must not keep a finished run going.
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`${err.message}\n`)
      process.stderr.write(`${USAGE}\n`)
      process.exit(2)
    }
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`chaos interrupted (${signal})\n`)
    process.exit(1)
  })
}
