// Mirroring (issue 25): `packyard sync --once` against `skopeo copy` in a loop, copying the same
// packs from the same upstream in the same run. Two upstreams, reference registries seeded once
// as ORAS pushes packs (spectro-packs/archive/<name>:<version>): one of small packs (50-300 KB),
// one of large ones. Each round starts two fresh, empty targets: a Packyard whose config lists
// both upstreams (api: v2), and a reference registry. Per set, the Packyard column is one
// `packyard sync --once --registry URL` process from spawn to exit (start-up, listing,
// validation and publishing included); the reference column is one `skopeo copy docker://
// docker://` process per pack, one after another, as a script mirroring with skopeo runs it.
// Each copy is checked: the targets must end up with every pack.

import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import type { Context } from '../context.js'
import { send } from '../http.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE, pushPackOci } from '../oci-client.js'
import { buildPackSet, type SyntheticPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { cleanEnv, type Registry, requireProgram, startPackyard, startReference } from '../registries.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const BIN = join(PACKAGE_ROOT, 'bin', 'packyard.js')

interface PackSet {
  key: 'small' | 'large'
  packs: SyntheticPack[]
  megabytes: number
  upstream: Registry
}

/** Runs a program to its end; fails the bench unless it exits 0. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4096)))
    child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4096)))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} exited ${code}:\n${output}`))))
  })
}

/** Fails unless `registry` serves the manifest of every pack of the set. */
async function checkCopied(registry: Registry, set: PackSet): Promise<void> {
  await forEachConcurrent(set.packs, 8, async (pack) => {
    await send(registry.ep, { method: 'HEAD', url: `/v2/${PACK_NAMESPACE}/${pack.name}/manifests/${pack.version}`, headers: { accept: MANIFEST_ACCEPT }, expect: [200] })
  })
}

export async function syncScenario(ctx: Context): Promise<Figure[]> {
  requireProgram('skopeo', 'sudo apt-get install skopeo')
  const { small, large, largeBytes } = ctx.settings.sync
  const { user, password } = ctx.credentials
  const sets: PackSet[] = []
  for (const [key, count] of [['small', small], ['large', large]] as const) {
    const upstream = ctx.adopt(await startReference(join(ctx.work, `sync-upstream-${key}`), ctx.credentials, ctx.registryOptions))
    ctx.progress(`sync: seeding the ${key}-pack upstream with ${count} packs`)
    const packs = await buildPackSet(ctx.work, {
      seed: `sync-${key}`,
      count,
      name: (i) => `sync-${key}-${String(i).padStart(4, '0')}`,
      version: () => '1.0.0',
      sizes: key === 'small' ? 'small' : { bytes: largeBytes },
    })
    await forEachConcurrent(packs, 4, (pack) => pushPackOci(upstream.ep, pack))
    for (const pack of packs) rmSync(pack.path, { force: true })
    sets.push({ key, packs, megabytes: packs.reduce((sum, p) => sum + p.size, 0) / 1e6, upstream })
  }
  const upstreamUrl = (set: PackSet) => set.upstream.ep.base.origin
  const syncRegistries = `[${sets.map((s) => `{url: ${upstreamUrl(s)}, api: v2, username: ${user}, password: ${password}}`).join(', ')}]`

  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    const packyardRoot = join(ctx.work, `sync-packyard-${round}`)
    const referenceRoot = join(ctx.work, `sync-reference-${round}`)
    // The server and the command read the same config: the target's storage and the upstreams.
    const serverEnv = { REGISTRY_SYNC_REGISTRIES: syncRegistries }
    const packyard = ctx.adopt(await startPackyard(packyardRoot, ctx.credentials, ctx.registryOptions, undefined, serverEnv))
    const reference = ctx.adopt(await startReference(referenceRoot, ctx.credentials, ctx.registryOptions))
    const syncEnv = cleanEnv({
      ...serverEnv,
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: packyardRoot,
      REGISTRY_AUTH_HTPASSWD_REALM: 'bench',
      REGISTRY_AUTH_HTPASSWD_PATH: ctx.credentials.htpasswd,
      REGISTRY_AUTH_ACCESS_WRITERS: user,
      REGISTRY_LOG_LEVEL: 'warn',
    })
    const turns = [
      {
        registry: packyard,
        copy: (set: PackSet) => run(process.execPath, [BIN, 'sync', '--once', '--registry', upstreamUrl(set)], syncEnv),
      },
      {
        registry: reference,
        copy: async (set: PackSet) => {
          const from = set.upstream.ep.base.host
          const to = reference.ep.base.host
          for (const pack of set.packs) {
            const image = `${PACK_NAMESPACE}/${pack.name}:${pack.version}`
            await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `--src-creds=${user}:${password}`, `--dest-creds=${user}:${password}`, `docker://${from}/${image}`, `docker://${to}/${image}`], cleanEnv({}))
          }
        },
      },
    ]
    for (const turn of roundOrder(turns, round)) {
      for (const set of sets) {
        settleDisk()
        const tool = turn.registry.kind === 'packyard' ? 'packyard sync' : 'skopeo copy'
        ctx.progress(`sync: round ${round + 1}, ${tool}, ${set.packs.length} ${set.key} packs (${set.megabytes.toFixed(0)} MB)`)
        const start = process.hrtime.bigint()
        await turn.copy(set)
        const elapsed = seconds(start)
        await checkCopied(turn.registry, set)
        samples.add(`${set.key}-packs`, turn.registry.kind, set.packs.length / elapsed)
        samples.add(`${set.key}-mb`, turn.registry.kind, set.megabytes / elapsed)
      }
    }
    await packyard.stop()
    await reference.stop()
    rmSync(packyardRoot, { recursive: true, force: true })
    rmSync(referenceRoot, { recursive: true, force: true })
  }
  const [smallSet, largeSet] = sets as [PackSet, PackSet]
  const what = (set: PackSet) =>
    `mirror ${set.packs.length} ${set.key === 'small' ? 'small packs (50-300 KB, ' : `packs of ${(largeBytes / 1e6).toFixed(0)} MB (`}${set.megabytes.toFixed(0)} MB in all), packyard sync vs skopeo copy per pack`
  const scenario = 'sync'
  return [
    samples.figure('small-packs', { scenario, name: what(smallSet), unit: 'packs/s', target: { kind: 'ratio-at-least', ratio: 3 } }),
    samples.figure('small-mb', { scenario, name: what(smallSet), unit: 'MB/s', target: null }),
    samples.figure('large-mb', { scenario, name: what(largeSet), unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1 } }),
    samples.figure('large-packs', { scenario, name: what(largeSet), unit: 'packs/s', target: null }),
  ]
}
