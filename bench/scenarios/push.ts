// Scenario 1: push N synthetic packs over /v2 the ORAS way, one client after another and with
// several concurrent clients, and report packs/s. Every round pushes fresh content (a new
// version of each pack), so no push is answered "already there"; both registries receive the
// same packs in the same order. On Packyard each push is also validated into a /v1 pack.

import { rmSync } from 'node:fs'
import type { Context } from '../context.js'
import { pushPackOci } from '../oci-client.js'
import { buildPackSet, type SyntheticPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

export async function pushScenario(ctx: Context): Promise<Figure[]> {
  const { packs: count, concurrency } = ctx.settings.push
  const modes = [
    { key: 'sequential', clients: 1 },
    { key: 'concurrent', clients: concurrency },
  ]
  const { both } = await ctx.main()
  const samples = new Samples()
  let megabytes = 0
  for (let round = 0; round < ctx.settings.rounds; round++) {
    const sets = new Map<string, SyntheticPack[]>()
    for (const [m, mode] of modes.entries()) {
      ctx.progress(`push: building ${count} packs for round ${round + 1}, ${mode.key}`)
      const set = await buildPackSet(ctx.work, {
        seed: `push-${round}-${mode.key}`,
        count,
        name: (i) => `bench-${String(i).padStart(4, '0')}`,
        version: () => `${round + 1}.${m}.0`,
      })
      sets.set(mode.key, set)
      megabytes = set.reduce((sum, p) => sum + p.size, 0) / 1e6
    }
    for (const registry of roundOrder(both, round)) {
      for (const mode of modes) {
        const set = sets.get(mode.key) as SyntheticPack[]
        settleDisk()
        ctx.progress(`push: round ${round + 1}, ${registry.kind}, ${count} packs (${megabytes.toFixed(0)} MB), ${mode.clients} client(s)`)
        const start = process.hrtime.bigint()
        await forEachConcurrent(set, mode.clients, (pack) => pushPackOci(registry.ep, pack))
        samples.add(mode.key, registry.kind, count / seconds(start))
      }
    }
    for (const set of sets.values()) for (const pack of set) rmSync(pack.path, { force: true })
  }
  return modes.map((mode) =>
    samples.figure(mode.key, {
      scenario: '1 push',
      name: `push ${count} packs (~${megabytes.toFixed(0)} MB), ${mode.clients === 1 ? 'sequentially' : `${mode.clients} concurrent clients`}`,
      unit: 'packs/s',
      target: { kind: 'ratio-at-least', ratio: 1 },
    }),
  )
}
