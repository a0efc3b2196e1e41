// Packyard only: the `packyard` command the way CI scripts run it, one process per
// command. First its start-up: `packyard version` run N times in a row, next to `node -e ''`,
// the floor every Node.js program pays on this machine. Then the single-file client (npm run
// build:client, built here for this machine when it is not up to date) against both: its
// `version` beside `node -e ''`, and its `pack push` of a small pack beside `node
// bin/packyard.js pack push` of another of the same size, the two taking turns. Then Spectro's
// publishing loop: one `registry login`, then every folder of a pack set (the push scenario's
// size mix) published by its own `packyard pack push -m MSG --registry-server HOST --force DIR`,
// one after another. Every round publishes new versions, so every push uploads its archive.

import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildClient } from '../../scripts/build-client.js'
import { CLIENT_DIR, CLIENT_TARGETS } from '../../src/client-files.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import type { Context } from '../context.js'
import { buildPackFolders } from '../packs.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds, stat } from '../stats.js'

const BIN = join(PACKAGE_ROOT, 'bin', 'packyard.js')

interface Finished {
  code: number | null
  stdout: string
  stderr: string
  /** from spawn to exit, in milliseconds */
  ms: number
}

/** Runs `node ARGS` to its end with `input` on standard input. */
function runNode(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Finished> {
  return runFile(process.execPath, args, env, input)
}

function runFile(file: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let ms = 0
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    child.on('exit', () => (ms = Number(process.hrtime.bigint() - start) / 1e6))
    child.on('close', (code) => resolve({ code, stdout, stderr, ms }))
    child.on('error', reject)
    child.stdin.end(input)
  })
}

/** Runs `node bin/packyard.js`, or the single file, and fails the bench unless it exits 0. */
async function packyard(args: string[], env: NodeJS.ProcessEnv, input?: string, singleFile?: string): Promise<Finished> {
  const done = singleFile === undefined ? await runNode([BIN, ...args], env, input) : await runFile(singleFile, args, env, input)
  if (done.code !== 0) throw new Error(`packyard ${args.join(' ')} exited ${done.code}:\n${done.stdout}${done.stderr}`)
  return done
}

async function medianMs(times: number, once: () => Promise<Finished>): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < times; i++) ms.push((await once()).ms)
  return stat(ms).median
}

export async function cliScenario(ctx: Context): Promise<Figure[]> {
  const { versionRuns, packs: count } = ctx.settings.cli
  const host = CLIENT_TARGETS.find((target) => target.id === `${process.platform}-${process.arch}`)
  if (host === undefined) throw new Error(`the single-file client is not built for ${process.platform}-${process.arch}`)
  ctx.progress(`cli: npm run build:client -- --target ${host.id} (skipped when up to date)`)
  await buildClient({ targets: [host.id], log: ctx.progress })
  const singleFile = join(CLIENT_DIR, host.file)
  const registry = await ctx.cli()
  const server = registry.ep.base.host
  const home = join(ctx.work, 'cli-home')
  mkdirSync(home, { recursive: true })
  const env = { ...process.env, HOME: home }
  await packyard(['registry', 'login', server, '--insecure', '--username', ctx.credentials.user, '--password-stdin'], env, `${ctx.credentials.password}\n`)

  const samples = new Samples()
  let megabytes = 0
  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`cli: round ${round + 1}, packyard version and node -e '' x ${versionRuns}`)
    samples.add('node', 'packyard', await medianMs(versionRuns, () => runNode(['-e', ''], env)))
    samples.add('version', 'packyard', await medianMs(versionRuns, () => packyard(['version'], env)))
    ctx.progress(`cli: round ${round + 1}, the single file's version and node -e '', taking turns, x ${versionRuns}`)
    const single: number[] = []
    const floor: number[] = []
    for (let i = 0; i < versionRuns; i++) {
      for (const turn of roundOrder(['single', 'node'] as const, i)) {
        if (turn === 'single') single.push((await packyard(['version'], env, undefined, singleFile)).ms)
        else floor.push((await runNode(['-e', ''], env)).ms)
      }
    }
    samples.add('single-version', 'packyard', stat(single).median)
    samples.add('single-version', 'reference', stat(floor).median)

    const small = join(ctx.work, `cli-small-${round}`)
    mkdirSync(small)
    const smallPacks = await buildPackFolders(small, {
      seed: `cli-small-${round}`,
      count: 2 * versionRuns,
      sizes: 'small',
      name: (i) => `bench-cli-${i % 2 === 0 ? 'single' : 'node'}`,
      version: (i) => `${round + 1}.${Math.floor(i / 2)}.0`,
    })
    settleDisk()
    ctx.progress(`cli: round ${round + 1}, pack push of a small pack, the single file and node bin/packyard.js taking turns, x ${versionRuns}`)
    const pushes: Record<'single' | 'node', number[]> = { single: [], node: [] }
    for (let i = 0; i < versionRuns; i++) {
      for (const turn of roundOrder(['single', 'node'] as const, i)) {
        const folder = smallPacks[2 * i + (turn === 'single' ? 0 : 1)] as (typeof smallPacks)[number]
        const pushed = await packyard(['pack', 'push', '-m', 'bench', '--registry-server', server, folder.dir], env, undefined, turn === 'single' ? singleFile : undefined)
        if (!pushed.stdout.startsWith(`Created ${folder.name}:${folder.version} on ${server}\n`)) throw new Error(`${turn}: packyard pack push ${folder.dir}: ${pushed.stdout}${pushed.stderr}`)
        pushes[turn].push(pushed.ms)
      }
    }
    samples.add('single-push', 'packyard', stat(pushes.single).median)
    samples.add('single-push', 'reference', stat(pushes.node).median)
    rmSync(small, { recursive: true, force: true })

    const dir = join(ctx.work, `cli-round-${round}`)
    mkdirSync(dir)
    ctx.progress(`cli: building ${count} pack folders for round ${round + 1}`)
    const folders = await buildPackFolders(dir, {
      seed: `cli-${round}`,
      count,
      name: (i) => `bench-cli-${String(i).padStart(4, '0')}`,
      version: () => `${round + 1}.0.0`,
    })
    settleDisk()
    ctx.progress(`cli: round ${round + 1}, ${count} x packyard pack push --force, one process each`)
    const start = process.hrtime.bigint()
    for (const folder of folders) {
      const pushed = await packyard(['pack', 'push', '-m', `bench round ${round + 1}`, '--registry-server', server, '--force', folder.dir], env)
      if (!pushed.stdout.startsWith(`Created ${folder.name}:${folder.version} on ${server}\n`)) {
        throw new Error(`packyard pack push ${folder.dir} did not create ${folder.name}:${folder.version}:\n${pushed.stdout}${pushed.stderr}`)
      }
    }
    samples.add('publish', 'packyard', count / seconds(start))
    megabytes = folders.reduce((sum, f) => sum + f.size, 0) / 1e6
    rmSync(dir, { recursive: true, force: true })
  }
  return [
    samples.figure('node', { scenario: 'cli', name: "node -e '' (the start-up floor of any Node.js program here)", unit: 'ms', target: null }),
    samples.figure('version', { scenario: 'cli', name: '`packyard version`, one process', unit: 'ms', target: { kind: 'median-at-most', value: 80 } }),
    samples.figure('single-version', {
      scenario: 'cli',
      name: "`packyard version`, the single file (reference column: `node -e ''`, the two taking turns)",
      unit: 'ms',
      target: { kind: 'ratio-at-most', ratio: 1 },
    }),
    samples.figure('single-push', {
      scenario: 'cli',
      name: '`packyard pack push` of a small pack (50-300 KB), the single file (reference column: `node bin/packyard.js`, taking turns)',
      unit: 'ms',
      target: null,
    }),
    samples.figure('publish', {
      scenario: 'cli',
      name: `publish ${count} pack folders, one \`packyard pack push --force\` process each (~${megabytes.toFixed(0)} MB)`,
      unit: 'packs/s',
      target: { kind: 'median-at-least', value: 8 },
    }),
  ]
}
