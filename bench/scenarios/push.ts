// Pushes over /v2 the ORAS way, packs/s: N small packs (50-300 KB) by one client, the same by
// several concurrent clients, and N packs of the mixed sizes of a real pack repository (1-5 MB
// and 50 MB packs included) by several concurrent clients. Every round pushes fresh content (a
// new version of each pack), so no push is answered "already there"; both registries receive
// the same packs in the same order. On Packyard each push is also validated into a /v1 pack.

import { rmSync } from 'node:fs'
import type { Context } from '../context.js'
import { pushPackOci } from '../oci-client.js'
import { buildPackSet, type SizeMix, type SyntheticPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds, type Target } from '../stats.js'

interface Mode {
  key: string
  sizes: SizeMix
  clients: number
  target: Target | null
}

function describe(sizes: SizeMix, count: number, megabytes: number): string {
  return sizes === 'small'
    ? `push ${count} small ORAS-style packs (50-300 KB, ~${megabytes.toFixed(0)} MB)`
    : `push ${count} packs of mixed sizes (~${megabytes.toFixed(0)} MB; 50-300 KB, 1-5 MB and 50 MB)`
}

export async function pushScenario(ctx: Context): Promise<Figure[]> {
  const { packs: count, concurrency } = ctx.settings.push
  const modes: Mode[] = [
    { key: 'small-one', sizes: 'small', clients: 1, target: { kind: 'ratio-at-least', ratio: 2.5 } },
    { key: 'small-concurrent', sizes: 'small', clients: concurrency, target: null },
    { key: 'mixed-concurrent', sizes: 'mixed', clients: concurrency, target: { kind: 'ratio-at-least', ratio: 2 } },
  ]
  const { both } = await ctx.main()
  const samples = new Samples()
  const megabytes = new Map<string, number>()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    const sets = new Map<string, SyntheticPack[]>()
    for (const [m, mode] of modes.entries()) {
      ctx.progress(`push: building ${count} packs for round ${round + 1}, ${mode.key}`)
      const set = await buildPackSet(ctx.work, {
        seed: `push-${round}-${mode.key}`,
        count,
        name: (i) => `bench-${String(i).padStart(4, '0')}`,
        version: () => `${round + 1}.${m}.0`,
        sizes: mode.sizes,
      })
      sets.set(mode.key, set)
      megabytes.set(mode.key, set.reduce((sum, p) => sum + p.size, 0) / 1e6)
    }
    for (const registry of roundOrder(both, round)) {
      for (const mode of modes) {
        const set = sets.get(mode.key) as SyntheticPack[]
        settleDisk()
        ctx.progress(`push: round ${round + 1}, ${registry.kind}, ${count} packs (${(megabytes.get(mode.key) as number).toFixed(0)} MB), ${mode.clients} client(s)`)
        const start = process.hrtime.bigint()
        await forEachConcurrent(set, mode.clients, (pack) => pushPackOci(registry.ep, pack))
        samples.add(mode.key, registry.kind, count / seconds(start))
      }
    }
    for (const set of sets.values()) for (const pack of set) rmSync(pack.path, { force: true })
  }
  return modes.map((mode) =>
    samples.figure(mode.key, {
      scenario: 'push',
      name: `${describe(mode.sizes, count, megabytes.get(mode.key) as number)}, ${mode.clients === 1 ? 'one client' : `${mode.clients} concurrent clients`}`,
      unit: 'packs/s',
      target: mode.target,
    }),
  )
}
