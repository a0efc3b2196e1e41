// S3 storage. A local S3 server (s3rver, the one the tests use) with a bucket per
// registry; Packyard with its blobs there runs the push / manifest GET / big blob work of the
// filesystem scenarios beside the main Packyard on the filesystem, and beside the reference
// registry with its s3 driver (regionendpoint at the local server, a bucket of its own) when
// that one can store a blob there. Distribution 2.8 cannot on s3rver: to continue an upload it
// calls ListMultipartUploads (GET /<bucket>?uploads), which s3rver answers 501 NotImplemented;
// the scenario says so on stderr and leaves that column out. In the table the reference column
// of the "vs filesystem" figures is Packyard on the filesystem.

import { join } from 'node:path'
import { sha256Digest } from '../../src/store/digest.js'
import type { Context } from '../context.js'
import { load } from '../load.js'
import { downloadBlob, MANIFEST_ACCEPT, PACK_NAMESPACE, pushPackOci, uploadBlob } from '../oci-client.js'
import { buildPackSet, writeTinyPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { randomBytes, randomStream, randomStreamDigest } from '../random.js'
import { type Registry, startPackyard, startReference, startS3rver } from '../registries.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, type Samples, seconds, type Target, TwoComparisons } from '../stats.js'

const PACK = { name: 's3-bench-pull', version: '1.0.0' }
const BLOB_REPO = 'bench/s3-big'

export async function s3Scenario(ctx: Context): Promise<Figure[]> {
  const { packs: count, blobBytes } = ctx.settings.s3
  const { manifestGet } = ctx.settings
  ctx.progress('s3: starting s3rver with buckets for Packyard and the reference registry')
  const s3 = await startS3rver(join(ctx.work, 's3rver'), ['packyard', 'reference'])
  try {
    const onS3 = ctx.adopt(await startPackyard(join(ctx.work, 'packyard-s3'), ctx.credentials, ctx.registryOptions, { ...s3, bucket: 'packyard' }))
    const onDisk = (await ctx.main()).packyard
    const reference = await referenceOnS3(ctx, { ...s3, bucket: 'reference' })
    const registries = [onS3, onDisk, ...(reference ? [reference] : [])]

    const comparisons = new TwoComparisons(onS3, onDisk)
    const { first: versusDisk, second: versusReference } = comparisons
    const add = (key: string, registry: Registry, value: number) => comparisons.add(key, registry, value)

    const pack = await writeTinyPack(ctx.work, PACK.name, PACK.version)
    for (const registry of registries) await pushPackOci(registry.ep, pack)

    const mb = blobBytes / 1e6
    for (let round = 0; round < ctx.settings.rounds; round++) {
      ctx.progress(`s3: building ${count} packs for round ${round + 1}`)
      const set = await buildPackSet(ctx.work, { seed: `s3-${round}`, count, name: (i) => `s3-bench-${String(i).padStart(4, '0')}`, version: () => `${round + 1}.0.0` })
      const megabytes = set.reduce((sum, p) => sum + p.size, 0) / 1e6
      const seed = `s3-big-${round}`
      const digest = await randomStreamDigest(seed, blobBytes)
      for (const registry of roundOrder(registries, round)) {
        const label = registry === onS3 ? 'Packyard on S3' : registry === onDisk ? 'Packyard on the filesystem' : 'reference on S3'
        settleDisk()
        ctx.progress(`s3: round ${round + 1}, ${label}, push ${count} packs (${megabytes.toFixed(0)} MB), one client`)
        const pushed = process.hrtime.bigint()
        await forEachConcurrent(set, 1, (p) => pushPackOci(registry.ep, p))
        add('push', registry, count / seconds(pushed))

        ctx.progress(`s3: round ${round + 1}, ${label}, manifest GET at ${manifestGet.connections} connections for ${manifestGet.seconds} s`)
        const manifests = await load(registry.ep, `/v2/${PACK_NAMESPACE}/${PACK.name}/manifests/${PACK.version}`, { connections: manifestGet.connections, seconds: manifestGet.seconds, headers: { accept: MANIFEST_ACCEPT } })
        add('manifest-rps', registry, manifests.rps)

        settleDisk()
        registry.resetPeak()
        const before = registry.memory().rssMb
        ctx.progress(`s3: round ${round + 1}, ${label}, upload and download a ${mb} MB blob`)
        const up = process.hrtime.bigint()
        await uploadBlob(registry.ep, BLOB_REPO, digest, randomStream(seed, blobBytes), blobBytes)
        add('upload', registry, mb / seconds(up))
        const down = process.hrtime.bigint()
        await downloadBlob(registry.ep, BLOB_REPO, digest, blobBytes)
        add('download', registry, mb / seconds(down))
        add('peak-rss', registry, registry.memory().peakMb)
        add('rss-growth', registry, registry.memory().peakMb - before)
      }
    }

    const scenario = 's3'
    const figures = (samples: Samples, versus: string, target: Target | null): Figure[] => [
      samples.figure('push', { scenario, name: `push ${count} packs, one client (${versus})`, unit: 'packs/s', target }),
      samples.figure('manifest-rps', { scenario, name: `manifest GET by tag, ${manifestGet.connections} connections (${versus})`, unit: 'req/s', target }),
      samples.figure('upload', { scenario, name: `${mb} MB blob upload (${versus})`, unit: 'MB/s', target }),
      samples.figure('download', { scenario, name: `${mb} MB blob download (${versus})`, unit: 'MB/s', target }),
      // No ceiling on the peak, which includes the AWS SDK and the scenario's pushes.
      samples.figure('peak-rss', { scenario, name: `peak server RSS moving the ${mb} MB blob (${versus})`, unit: 'MB', target: null }),
    ]
    const onDiskColumn = 'Packyard on S3; reference column: Packyard on the filesystem'
    return [
      ...figures(versusDisk, onDiskColumn, null),
      // Issue 13's bound: moving a blob of any size raises the RSS by less than 100 MB (the parts
      // in flight, and socket buffers that V8 frees at its next collection).
      versusDisk.figure('rss-growth', { scenario, name: `server RSS growth moving the ${mb} MB blob (${onDiskColumn})`, unit: 'MB', target: { kind: 'max-at-most', value: 100 } }),
      ...(reference ? figures(versusReference, 'Packyard on S3; reference column: reference on S3', { kind: 'ratio-at-least', ratio: 1 }) : []),
    ]
  } finally {
    await s3.stop()
  }
}

/** The reference registry on its bucket, if it can store a blob there; else null, said on stderr. */
async function referenceOnS3(ctx: Context, s3: Parameters<typeof startReference>[3]): Promise<Registry | null> {
  const registry = ctx.adopt(await startReference(join(ctx.work, 'reference-s3'), ctx.credentials, ctx.registryOptions, s3))
  const probe = randomBytes('s3-probe', 1000)
  try {
    await uploadBlob(registry.ep, 'bench/probe', sha256Digest(probe), probe, probe.length)
    return registry
  } catch (err) {
    ctx.progress(`s3: the reference registry cannot store a blob on s3rver, so it is left out: ${err instanceof Error ? err.message : String(err)}`)
    await registry.stop()
    return null
  }
}
