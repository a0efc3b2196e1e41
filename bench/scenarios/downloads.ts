// Many clients downloading one big blob at once, as nodes pulling the same pack after a
// release do: 32 clients each GET a 100 MB blob, all started together, and the server's peak
// resident memory meanwhile (VmHWM of its process, reset just before) with the aggregate MB/s.
// The blob is uploaded once, untimed, to a pair of registries of its own, so the memory measured
// does not depend on what other scenarios made the main pair's processes grow to.

import type { Context } from '../context.js'
import { downloadBlob, uploadBlob } from '../oci-client.js'
import { forEachConcurrent } from '../pool.js'
import { randomStream, randomStreamDigest } from '../random.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const REPO = 'bench/downloads'

export async function downloadsScenario(ctx: Context): Promise<Figure[]> {
  const { bytes, clients } = ctx.settings.downloads
  const mb = bytes / 1e6
  const { both } = await ctx.downloads()
  const seed = 'downloads'
  const digest = await randomStreamDigest(seed, bytes)
  for (const registry of both) await uploadBlob(registry.ep, REPO, digest, randomStream(seed, bytes), bytes)

  const samples = new Samples()
  const everyone = Array.from({ length: clients }, (_, i) => i)
  for (let round = 0; round < ctx.settings.rounds; round++) {
    for (const registry of roundOrder(both, round)) {
      settleDisk()
      registry.resetPeak()
      const before = registry.memory().rssMb
      const start = process.hrtime.bigint()
      await forEachConcurrent(everyone, clients, async () => {
        await downloadBlob(registry.ep, REPO, digest, bytes)
      })
      samples.add('mbps', registry.kind, (clients * mb) / seconds(start))
      const peak = registry.memory().peakMb
      samples.add('peak-rss', registry.kind, peak)
      ctx.progress(`downloads: round ${round + 1}, ${registry.kind}, ${clients} clients x ${mb} MB: RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB`)
    }
  }
  const scenario = 'downloads'
  const what = `${clients} clients downloading a ${mb} MB blob at once`
  return [
    samples.figure('peak-rss', { scenario, name: `peak server RSS, ${what}`, unit: 'MB', target: { kind: 'max-at-most', value: 180 } }),
    samples.figure('mbps', { scenario, name: `${what}, all clients together`, unit: 'MB/s', target: null }),
  ]
}
