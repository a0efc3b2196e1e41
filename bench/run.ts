// `npm run bench [-- --quick] [-- --only=push,listing] [-- --cpu-prof]`: starts Packyard and the
// CNCF reference registry side by side (pairs on disk, listing registries on tmpfs: see
// context.ts; each started when a scenario first needs it), runs the scenarios against both
// (the CLI scenario against Packyard alone), prints the table (its scenario column is the
// `--only` name that reproduces the figure) and writes
// bench/results/latest.json (quick.json for --quick, partial.json for --only). Any failure exits
// non-zero with the reason, which is what lets CI run the quick mode as a smoke test. Whatever
// happens, every server is killed and the scratch directories are removed (the postgres and
// replicas scenarios' PostgreSQL server and its directory too: see bench/postgres.ts; the
// replicas scenario's nginx by its teardown, or by test/nginx.ts's watchdog on a hard exit).

import { execFileSync } from 'node:child_process'
import { accessSync, constants, mkdtempSync, statfsSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/paths.js'
import { onlyParts, unknownArgument, UsageError } from './args.js'
import { type Context, FULL, type Pair, QUICK } from './context.js'
import { createCredentials, killAllNow, type Registry, requirePrograms, startPackyard, startReference } from './registries.js'
import { table, writeResults } from './report.js'
import { bigBlobScenario } from './scenarios/big-blob.js'
import { cliScenario } from './scenarios/cli.js'
import { downloadsScenario } from './scenarios/downloads.js'
import { idleScenario } from './scenarios/idle.js'
import { listingScenario } from './scenarios/listing.js'
import { mixedScenario } from './scenarios/mixed.js'
import { notificationsScenario } from './scenarios/notifications.js'
import { pullScenario } from './scenarios/pull.js'
import { pushScenario } from './scenarios/push.js'
import { postgresScenario } from './scenarios/postgres.js'
import { replicasScenario } from './scenarios/replicas.js'
import { s3Scenario } from './scenarios/s3.js'
import { tagsScenario } from './scenarios/tags.js'
import { syncScenario } from './scenarios/sync.js'
import { uiScenario } from './scenarios/ui.js'
import { v1Scenario } from './scenarios/v1.js'
import { type Figure, stat } from './stats.js'

// Idle memory (on a quiet machine), pushes, reads, transfers, listings, then Packyard's own
// surfaces; --only keeps this order whatever order it is given.
const SCENARIOS: Record<string, (ctx: Context) => Promise<Figure[]>> = {
  idle: idleScenario,
  push: pushScenario,
  pull: pullScenario,
  mixed: mixedScenario,
  'big-blob': bigBlobScenario,
  downloads: downloadsScenario,
  listing: listingScenario,
  v1: v1Scenario,
  tags: tagsScenario,
  ui: uiScenario,
  cli: cliScenario,
  s3: s3Scenario,
  postgres: postgresScenario,
  replicas: replicasScenario,
  notifications: notificationsScenario,
  sync: syncScenario,
}
/** The scenarios that run against Packyard alone, so need no reference registry installed. */
const PACKYARD_ONLY = new Set(['cli', 'ui', 'notifications'])

const USAGE = `usage: npm run bench -- [--quick] [--only=${Object.keys(SCENARIOS).join(',')}] [--cpu-prof]
  --quick     small counts and 2 rounds (about a minute; CI runs this)
  --only      run only these scenarios (figures go to bench/results/partial.json)
  --cpu-prof  run Packyard under node --cpu-prof; the profile goes to bench/results/profiles/`

interface Options {
  quick: boolean
  only: string[]
  cpuProf: boolean
}

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, only: Object.keys(SCENARIOS), cpuProf: false }
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true
    else if (arg === '--cpu-prof') options.cpuProf = true
    else if (arg.startsWith('--only=')) options.only = onlyParts(arg.slice('--only='.length), Object.keys(SCENARIOS), 'scenario')
    else throw unknownArgument(arg)
  }
  return options
}

/** Starts on the first get(), once; current() is what has been started, if anything. */
function lazy<T>(start: () => Promise<T>): { get: () => Promise<T>; current: () => Promise<T> | null } {
  let started: Promise<T> | null = null
  return { get: () => (started ??= start()), current: () => started }
}

// The full run's listing registries hold about 1 GB on tmpfs; twice that leaves room.
const TMPFS_NEEDED_BYTES = 2e9

/**
 * /dev/shm when it is there to write to (Linux) with room for the listings (a container's
 * default 64 MB is not): where the listing registries keep their data.
 */
function tmpfsDir(): string | null {
  try {
    accessSync('/dev/shm', constants.W_OK)
    const fs = statfsSync('/dev/shm')
    return fs.bavail * fs.bsize >= TMPFS_NEEDED_BYTES ? '/dev/shm' : null
  } catch {
    return null
  }
}

async function main(argv: string[]): Promise<void> {
  const options = parseArgs(argv)
  const settings = options.quick ? QUICK : FULL
  const started = process.hrtime.bigint()
  const startedAt = new Date()
  const loadAtStart = loadavg()
  const elapsed = () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1).padStart(6)
  const progress = (message: string) => process.stderr.write(`[${elapsed()} s] ${message}\n`)

  const dir = mkdtempSync(join(tmpdir(), 'packyard-bench-'))
  const listingDir = mkdtempSync(join(tmpfsDir() ?? tmpdir(), 'packyard-bench-listing-'))
  // rm(1) because it removes the listing pair's 670,000 files twice as fast as rmSync. Also the
  // last line of defence: on any exit, even process.exit() from a signal, no server outlives the
  // bench and no scratch directory is left behind.
  const cleanUp = () => {
    killAllNow()
    execFileSync('rm', ['-rf', dir, listingDir])
  }
  process.on('exit', cleanUp)
  const results = join(PACKAGE_ROOT, 'bench', 'results')
  const registries: Registry[] = []
  try {
    requirePrograms({ reference: options.only.some((s) => !PACKYARD_ONLY.has(s)) })
    const credentials = createCredentials(dir)
    const registryOptions = { maxSockets: 64, cpuProfDir: options.cpuProf ? join(results, 'profiles') : null }
    // Each one is listed as soon as it runs, so that the finally below stops it whatever fails next.
    const start = async (starter: typeof startPackyard, root: string): Promise<Registry> => {
      const registry = await starter(root, credentials, registryOptions)
      registries.push(registry)
      return registry
    }
    const pair = async (what: string, where: string): Promise<Pair> => {
      progress(`starting the ${what} pair of registries in ${where}`)
      const packyard = await start(startPackyard, join(where, 'packyard'))
      const reference = await start(startReference, join(where, 'reference'))
      return { packyard, reference, both: [packyard, reference] }
    }
    const lone = async (what: string, where: string): Promise<Registry> => {
      progress(`starting the ${what} Packyard in ${where}`)
      return start(startPackyard, where)
    }
    const main = lazy(() => pair('main', dir))
    const ctx: Context = {
      settings,
      main: main.get,
      downloads: lazy(() => pair('downloads', join(dir, 'downloads'))).get,
      listing: lazy(() => pair('listing', join(listingDir, 'catalog'))).get,
      packs: lazy(() => lone('pack listing', join(listingDir, 'packs'))).get,
      cli: lazy(() => lone('CLI', join(dir, 'cli'))).get,
      credentials,
      work: dir,
      progress,
      registryOptions,
      adopt: (registry) => {
        registries.push(registry)
        return registry
      },
    }

    const figures: Figure[] = []
    try {
      for (const name of options.only) figures.push(...(await (SCENARIOS[name] as (c: Context) => Promise<Figure[]>)(ctx)))
    } catch (err) {
      // "socket hang up" says little when the cause is a registry that crashed: name it. Its exit
      // event can arrive just after the failed request's, hence the short wait.
      await new Promise((resolve) => setTimeout(resolve, 250))
      const deaths = registries.map((r) => r.death()).filter((d) => d !== null)
      if (deaths.length > 0) throw new Error([err instanceof Error ? err.message : String(err), ...deaths].join('\n'))
      throw err
    }
    const mainPair = main.current()
    if (mainPair !== null) {
      figures.push({
        scenario: '(end of run)',
        name: 'RSS of the main Packyard after the scenarios run',
        unit: 'MB',
        packyard: stat([(await mainPair).packyard.memory().rssMb]),
        reference: null,
        target: null,
      })
    }

    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const partial = options.only.length < Object.keys(SCENARIOS).length
    const file = join(results, options.quick ? 'quick.json' : partial ? 'partial.json' : 'latest.json')
    writeResults(file, { mode: options.quick ? 'quick' : 'full', settings, scenarios: options.only, listingStorage: listingDir, startedAt, loadAtStart, seconds }, figures)
    process.stdout.write(`\n${table(figures)}\n\n`)
    if (options.quick) process.stdout.write('Quick mode: small counts and sizes, so the targets (set for the full run) say little here.\n\n')
    progress(`done in ${seconds.toFixed(0)} s; figures in ${file}${options.cpuProf ? `, Packyard CPU profile in ${join(results, 'profiles')}` : ''}`)
  } finally {
    // Stopped gracefully (SIGTERM) so that a --cpu-prof profile gets written.
    await Promise.all(registries.map((r) => r.stop()))
    progress('removing the scratch directories')
    cleanUp()
  }
}

main(process.argv.slice(2)).then(
  // Explicitly: a keep-alive socket or timer left behind must not keep a finished bench running.
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`${err.message}\n`)
      process.stderr.write(`${USAGE}\n`)
      process.exit(2)
    }
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`bench interrupted (${signal})\n`)
    process.exit(1)
  })
}
