// Big blobs, one transfer at a time: a 1 GB blob up (monolithic POST + PUT) and down again, MB/s
// each way, and the server's peak resident memory while it moves them (VmHWM, reset before the
// upload); then the same for a 256 MB blob. The bytes come from a keystream generator on the
// fly, never from memory or disk; their digest is computed in a first pass that is not timed.
// Each round sends new bytes, so no registry can answer from what it already has.

import type { Context } from '../context.js'
import { downloadBlob, uploadBlob } from '../oci-client.js'
import { randomStream, randomStreamDigest } from '../random.js'
import type { Registry } from '../registries.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const REPO = 'bench/big'

function sizeName(bytes: number): string {
  const mb = bytes / 1e6
  return mb >= 1000 ? `${mb / 1000} GB` : `${mb} MB`
}

interface BigBlob {
  /** names its samples */
  key: string
  seed: string
  digest: string
  bytes: number
}

async function blobOf(key: string, seed: string, bytes: number): Promise<BigBlob> {
  return { key, seed, bytes, digest: await randomStreamDigest(seed, bytes) }
}

/** Uploads then downloads `blob` with `registry`, adding MB/s each way. */
async function upAndDown(ctx: Context, samples: Samples, registry: Registry, round: number, { key, seed, digest, bytes }: BigBlob): Promise<void> {
  const mb = bytes / 1e6
  settleDisk()
  ctx.progress(`big blob: round ${round + 1}, ${registry.kind}, upload ${sizeName(bytes)}`)
  const up = process.hrtime.bigint()
  await uploadBlob(registry.ep, REPO, digest, randomStream(seed, bytes), bytes)
  samples.add(`${key}-upload`, registry.kind, mb / seconds(up))
  settleDisk()
  ctx.progress(`big blob: round ${round + 1}, ${registry.kind}, download ${sizeName(bytes)}`)
  const down = process.hrtime.bigint()
  await downloadBlob(registry.ep, REPO, digest, bytes)
  samples.add(`${key}-download`, registry.kind, mb / seconds(down))
}

export async function bigBlobScenario(ctx: Context): Promise<Figure[]> {
  const { bytes, alsoBytes } = ctx.settings.bigBlob
  const { both } = await ctx.main()
  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`big blob: hashing ${sizeName(bytes)} and ${sizeName(alsoBytes)} for round ${round + 1}`)
    const big = await blobOf('big', `big-blob-${round}`, bytes)
    const also = await blobOf('also', `big-blob-also-${round}`, alsoBytes)
    for (const registry of roundOrder(both, round)) {
      registry.resetPeak()
      await upAndDown(ctx, samples, registry, round, big)
      samples.add('peak-rss', registry.kind, registry.memory().peakMb)
      await upAndDown(ctx, samples, registry, round, also)
    }
  }
  const scenario = 'big-blob'
  const size = sizeName(bytes)
  const alsoSize = sizeName(alsoBytes)
  return [
    samples.figure('big-upload', { scenario, name: `${size} blob upload`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1.1 } }),
    samples.figure('big-download', { scenario, name: `${size} blob download`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 0.9 } }),
    samples.figure('peak-rss', { scenario, name: `peak server RSS moving the ${size} blob`, unit: 'MB', target: { kind: 'max-at-most', value: 200 } }),
    samples.figure('also-upload', { scenario, name: `${alsoSize} blob upload`, unit: 'MB/s', target: null }),
    samples.figure('also-download', { scenario, name: `${alsoSize} blob download`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 0.9 } }),
  ]
}
