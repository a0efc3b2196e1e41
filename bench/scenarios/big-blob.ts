// Scenario 2b: one 1 GB blob up (monolithic POST + PUT) and down again, MB/s each way, and the
// server's peak resident memory while it moves them (VmHWM, reset before the upload). The bytes
// come from a keystream generator on the fly, never from memory or disk; their digest is
// computed in a first pass that is not timed. Each round sends new bytes, so no registry can
// answer from what it already has.

import type { Context } from '../context.js'
import { downloadBlob, uploadBlob } from '../oci-client.js'
import { randomStream, randomStreamDigest } from '../random.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const REPO = 'bench/big'

export async function bigBlobScenario(ctx: Context): Promise<Figure[]> {
  const { bytes } = ctx.settings.bigBlob
  const mb = bytes / 1e6
  const { both } = await ctx.main()
  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    const seed = `big-blob-${round}`
    ctx.progress(`big blob: hashing ${mb} MB for round ${round + 1}`)
    const digest = await randomStreamDigest(seed, bytes)
    for (const registry of roundOrder(both, round)) {
      settleDisk()
      registry.resetPeak()
      ctx.progress(`big blob: round ${round + 1}, ${registry.kind}, upload ${mb} MB`)
      const up = process.hrtime.bigint()
      await uploadBlob(registry.ep, REPO, digest, randomStream(seed, bytes), bytes)
      samples.add('upload', registry.kind, mb / seconds(up))
      settleDisk()
      ctx.progress(`big blob: round ${round + 1}, ${registry.kind}, download ${mb} MB`)
      const down = process.hrtime.bigint()
      await downloadBlob(registry.ep, REPO, digest, bytes)
      samples.add('download', registry.kind, mb / seconds(down))
      samples.add('peak-rss', registry.kind, registry.memory().peakMb)
    }
  }
  const scenario = '2 pull'
  const size = mb >= 1000 ? `${mb / 1000} GB` : `${mb} MB`
  return [
    samples.figure('upload', { scenario, name: `${size} blob upload`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1 } }),
    samples.figure('download', { scenario, name: `${size} blob download`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1 } }),
    samples.figure('peak-rss', { scenario, name: `peak server RSS moving the ${size} blob`, unit: 'MB', target: { kind: 'packyard-below', value: 200 } }),
  ]
}
