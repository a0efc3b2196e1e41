// Reads under writes: manifest GET by tag of a pack at 32 connections (autocannon) while 8
// clients push packs (the push scenario's mixed sizes; small ones in --quick) the way `oras
// push` does, both at once. The GET
// load starts just before the pushes and stops when the last push is answered, so req/s and p99
// cover exactly the time the pushes take; the pushes' packs/s meanwhile is a figure too, so a
// registry cannot look good by starving its writers: each round first pushes a set of packs with
// no read load, then a second set under it, and `push-share` is the loaded rate as a share of the
// unloaded one (issue 21's fairness target: at least 50 %). The push clients run on a thread of
// their own (push-clients.ts). Every set pushes new versions, so every push uploads its archive.

import { rmSync } from 'node:fs'
import type { Context } from '../context.js'
import { loadWhile } from '../load.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE, pushPackOci } from '../oci-client.js'
import { buildPackSet, writeTinyPack } from '../packs.js'
import { type PushJob, startPushClients } from '../push-clients.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const PACK = { name: 'bench-mixed-get', version: '1.0.0' }

export async function mixedScenario(ctx: Context): Promise<Figure[]> {
  const { packs: count, concurrency, sizes } = ctx.settings.mixed
  const { connections } = ctx.settings.manifestGet
  const { both } = await ctx.main()
  const read = await writeTinyPack(ctx.work, PACK.name, PACK.version)
  for (const registry of both) await pushPackOci(registry.ep, read)
  const path = `/v2/${PACK_NAMESPACE}/${PACK.name}/manifests/${PACK.version}`

  const samples = new Samples()
  let megabytes = 0
  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`mixed: building 2 x ${count} packs for round ${round + 1}`)
    // The same sizes in both sets (one seed), new versions in each, so the two rates compare.
    const setOf = (minor: number) =>
      buildPackSet(ctx.work, { seed: `mixed-${round}`, count, name: (i) => `bench-mixed-${String(i).padStart(4, '0')}`, version: () => `${round + 1}.${minor}.0`, sizes })
    const unloadedSet = await setOf(0)
    const loadedSet = await setOf(1)
    megabytes = loadedSet.reduce((sum, p) => sum + p.size, 0) / 1e6
    for (const registry of roundOrder(both, round)) {
      const job: Omit<PushJob, 'packs'> = {
        label: registry.kind,
        base: registry.ep.base.href,
        user: ctx.credentials.user,
        password: ctx.credentials.password,
        maxSockets: ctx.registryOptions.maxSockets,
        concurrency,
      }
      const unloaded = await startPushClients({ ...job, packs: unloadedSet })
      settleDisk()
      ctx.progress(`mixed: round ${round + 1}, ${registry.kind}, ${concurrency} clients push ${count} packs (${megabytes.toFixed(0)} MB) with no read load`)
      const unloadedStart = process.hrtime.bigint()
      await unloaded.go()
      const unloadedRate = count / seconds(unloadedStart)
      const loaded = await startPushClients({ ...job, packs: loadedSet })
      settleDisk()
      ctx.progress(`mixed: round ${round + 1}, ${registry.kind}, manifest GET at ${connections} connections while ${concurrency} clients push ${count} packs (${megabytes.toFixed(0)} MB)`)
      const { load, work: pushSeconds } = await loadWhile(registry.ep, path, { connections, headers: { accept: MANIFEST_ACCEPT } }, async () => {
        const start = process.hrtime.bigint()
        await loaded.go()
        return seconds(start)
      })
      const loadedRate = count / pushSeconds
      samples.add('get-rps', registry.kind, load.rps)
      samples.add('get-p99', registry.kind, load.p99)
      samples.add('push', registry.kind, loadedRate)
      samples.add('push-unloaded', registry.kind, unloadedRate)
      samples.add('push-share', registry.kind, (100 * loadedRate) / unloadedRate)
    }
    for (const pack of [...unloadedSet, ...loadedSet]) rmSync(pack.path, { force: true })
  }
  const scenario = 'mixed'
  const pushes = `while ${concurrency} clients push ${count} ${sizes === 'small' ? 'small packs' : 'packs of mixed sizes'} (~${megabytes.toFixed(0)} MB)`
  return [
    samples.figure('get-rps', { scenario, name: `manifest GET by tag, ${connections} connections, ${pushes}`, unit: 'req/s', target: { kind: 'ratio-at-least', ratio: 10 } }),
    samples.figure('get-p99', { scenario, name: `manifest GET by tag, ${connections} connections, ${pushes}, p99`, unit: 'ms', target: null }),
    samples.figure('push', { scenario, name: `the ${concurrency} clients' pushes meanwhile`, unit: 'packs/s', target: null }),
    samples.figure('push-unloaded', { scenario, name: `the same clients pushing as many packs with no read load`, unit: 'packs/s', target: null }),
    samples.figure('push-share', { scenario, name: `pushes under the read load, as a share of their unloaded rate`, unit: '%', target: { kind: 'median-at-least', value: 50 } }),
  ]
}
