// Big blobs, one transfer at a time: a 1 GB blob up (monolithic POST + PUT) and down again, MB/s
// each way, and the server's peak resident memory while it moves them (VmHWM, reset before the
// upload); then the same for a 256 MB blob. The bytes come from a keystream generator on the
// fly, never from memory or disk; their digest is computed in a first pass that is not timed.
// Each round sends new bytes, so no registry can answer from what it already has.
//
// A third turn in each round has the same blobs downloaded through nginx (test/nginx.ts, the
// tests' harness) in front of a Packyard of its own with storage.filesystem.accelredirect on:
// Packyard authenticates and resolves, nginx sends the file. The blob is uploaded to it
// untimed, then downloaded through nginx; the figure's reference column is the reference
// registry's direct download of the same blob in the same round.

import { join } from 'node:path'
import { ACCEL_PREFIX, startNginx } from '../../test/nginx.js'
import type { Context } from '../context.js'
import { endpoint, type Endpoint } from '../http.js'
import { downloadBlob, uploadBlob } from '../oci-client.js'
import { randomStream, randomStreamDigest } from '../random.js'
import { type Registry, startPackyard } from '../registries.js'
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

/** Uploads then downloads `blob` with `registry`, adding MB/s each way; the download's MB/s. */
async function upAndDown(ctx: Context, samples: Samples, registry: Registry, round: number, { key, seed, digest, bytes }: BigBlob): Promise<number> {
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
  const mbps = mb / seconds(down)
  samples.add(`${key}-download`, registry.kind, mbps)
  return mbps
}

/** Packyard with accelredirect on, behind nginx whose internal location aliases its blobs/. */
interface Accelerated {
  /** Packyard itself, to upload to */
  packyard: Registry
  /** nginx in front of it */
  nginx: Endpoint
  stop: () => Promise<void>
}

async function startAccelerated(ctx: Context): Promise<Accelerated> {
  const root = join(ctx.work, 'packyard-accel')
  const packyard = ctx.adopt(await startPackyard(root, ctx.credentials, ctx.registryOptions, undefined, { REGISTRY_STORAGE_FILESYSTEM_ACCELREDIRECT: ACCEL_PREFIX }))
  const teardowns: Array<() => void | Promise<void>> = []
  const nginx = await startNginx({ teardown: (fn) => teardowns.push(fn) }, [packyard.ep.base.host], { accel: join(root, 'blobs') })
  const { user, password } = ctx.credentials
  return {
    packyard,
    nginx: endpoint('packyard via nginx', nginx.url, user, password, ctx.registryOptions.maxSockets),
    stop: async () => {
      for (const teardown of teardowns.reverse()) await teardown()
    },
  }
}

/** Uploads `blob` to the accelerated Packyard (untimed), then downloads it through nginx; MB/s. */
async function downThroughNginx(ctx: Context, accel: Accelerated, round: number, { seed, digest, bytes }: BigBlob): Promise<number> {
  ctx.progress(`big blob: round ${round + 1}, packyard via nginx, upload ${sizeName(bytes)} (untimed)`)
  await uploadBlob(accel.packyard.ep, REPO, digest, randomStream(seed, bytes), bytes)
  settleDisk()
  ctx.progress(`big blob: round ${round + 1}, packyard via nginx, download ${sizeName(bytes)}`)
  const down = process.hrtime.bigint()
  await downloadBlob(accel.nginx, REPO, digest, bytes)
  return bytes / 1e6 / seconds(down)
}

export async function bigBlobScenario(ctx: Context): Promise<Figure[]> {
  const { bytes, alsoBytes } = ctx.settings.bigBlob
  const { both } = await ctx.main()
  ctx.progress('big blob: starting a Packyard with accelredirect on, and nginx in front of it')
  const accel = await startAccelerated(ctx)
  const samples = new Samples()
  try {
    for (let round = 0; round < ctx.settings.rounds; round++) {
      ctx.progress(`big blob: hashing ${sizeName(bytes)} and ${sizeName(alsoBytes)} for round ${round + 1}`)
      const big = await blobOf('big', `big-blob-${round}`, bytes)
      const also = await blobOf('also', `big-blob-also-${round}`, alsoBytes)
      for (const registry of roundOrder([...both, null], round)) {
        if (registry === null) {
          for (const blob of [big, also]) samples.add(`${blob.key}-nginx-download`, 'packyard', await downThroughNginx(ctx, accel, round, blob))
          continue
        }
        registry.resetPeak()
        const bigDown = await upAndDown(ctx, samples, registry, round, big)
        samples.add('peak-rss', registry.kind, registry.memory().peakMb)
        const alsoDown = await upAndDown(ctx, samples, registry, round, also)
        if (registry.kind === 'reference') {
          samples.add('big-nginx-download', 'reference', bigDown)
          samples.add('also-nginx-download', 'reference', alsoDown)
        }
      }
    }
  } finally {
    await accel.stop()
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
    samples.figure('big-nginx-download', { scenario, name: `${size} blob download through nginx (accelredirect; reference direct)`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1 } }),
    samples.figure('also-nginx-download', { scenario, name: `${alsoSize} blob download through nginx (accelredirect; reference direct)`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1 } }),
  ]
}
