// Packyard only: the `packyard` command the way CI scripts run it, one process per
// command. First its start-up: `packyard version` run N times in a row, next to `node -e ''`,
// the floor every Node.js program pays on this machine. Then Spectro's publishing loop: one
// `registry login`, then every folder of a pack set (the push scenario's size mix) published by
// its own `packyard pack push -m MSG --registry-server HOST --force DIR`, one after another.
// Every round publishes new versions, so every push uploads its archive.

import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import type { Context } from '../context.js'
import { buildPackFolders } from '../packs.js'
import { settleDisk } from '../settle.js'
import { type Figure, Samples, seconds, stat } from '../stats.js'

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
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
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

/** Runs the binary and fails the bench unless it exits 0. */
async function packyard(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Finished> {
  const done = await runNode([BIN, ...args], env, input)
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
    samples.figure('publish', {
      scenario: 'cli',
      name: `publish ${count} pack folders, one \`packyard pack push --force\` process each (~${megabytes.toFixed(0)} MB)`,
      unit: 'packs/s',
      target: { kind: 'median-at-least', value: 8 },
    }),
  ]
}
