// Listings of a big registry. N repositories with 5 tags each, the same content on
// both registries: one shared 2-byte blob and five tiny manifests per repository. Packyard is
// seeded through its API as cheaply as a client fairly can (the blob mounted, not re-sent;
// many clients at once); the reference registry's storage is written directly, in the layout
// its API would leave (see reference-seed.ts for why), and both are checked through the API.
// Seeding is not timed. Then each round times a full paged catalog listing (following Link
// headers to the end) and the full tags listing of a sample of repositories, one at a time.

import { EMPTY_CONFIG, EMPTY_CONFIG_DIGEST } from '../../src/packs/oras-manifest.js'
import { sha256Digest } from '../../src/store/digest.js'
import type { Context } from '../context.js'
import { type Endpoint, listAllPages, send } from '../http.js'
import { MANIFEST_ACCEPT, mountBlob, putManifest, tinyManifest, uploadBlob } from '../oci-client.js'
import { forEachConcurrent } from '../pool.js'
import { ReferenceStorage } from '../reference-seed.js'
import type { Registry } from '../registries.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const PREFIX = 'bench/catalog'
const SOURCE = `${PREFIX}/source`

function repositoryName(index: number): string {
  return `${PREFIX}/r${String(index).padStart(6, '0')}`
}

function tagName(t: number): string {
  return `1.0.${t}`
}

function manifestFor(repo: string, t: number): Buffer {
  return tinyManifest(`${repo}:${tagName(t)}`)
}

async function seedThroughApi(ep: Endpoint, repositories: number, tags: number, concurrency: number): Promise<void> {
  await uploadBlob(ep, SOURCE, EMPTY_CONFIG_DIGEST, EMPTY_CONFIG, EMPTY_CONFIG.length)
  const indexes = Array.from({ length: repositories }, (_, i) => i)
  await forEachConcurrent(indexes, concurrency, async (i) => {
    const repo = repositoryName(i)
    await mountBlob(ep, repo, EMPTY_CONFIG_DIGEST, SOURCE, EMPTY_CONFIG)
    for (let t = 0; t < tags; t++) await putManifest(ep, repo, tagName(t), manifestFor(repo, t))
  })
}

function seedOnDisk(storage: string, repositories: number, tags: number): void {
  const disk = new ReferenceStorage(storage)
  disk.addRepository({ name: SOURCE, blobs: [EMPTY_CONFIG], manifests: [] })
  for (let i = 0; i < repositories; i++) {
    const repo = repositoryName(i)
    disk.addRepository({ name: repo, blobs: [EMPTY_CONFIG], manifests: Array.from({ length: tags }, (_, t) => ({ tag: tagName(t), content: manifestFor(repo, t) })) })
  }
}

/** Both registries must serve what was seeded: the last tag of the first, middle and last repository. */
async function checkSeeded(registry: Registry, repositories: number, tags: number): Promise<void> {
  for (const i of [0, Math.floor(repositories / 2), repositories - 1]) {
    const repo = repositoryName(i)
    const answer = await send(registry.ep, { method: 'GET', url: `/v2/${repo}/manifests/${tagName(tags - 1)}`, headers: { accept: MANIFEST_ACCEPT }, expect: [200] })
    const expected = sha256Digest(manifestFor(repo, tags - 1))
    if (answer.headers['docker-content-digest'] !== expected) {
      throw new Error(`${registry.kind}: ${repo}:${tagName(tags - 1)} is ${String(answer.headers['docker-content-digest'])}, expected ${expected}`)
    }
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export async function listingScenario(ctx: Context): Promise<Figure[]> {
  const { repositories, tagsPerRepository, pageSize, tagSample, seedConcurrency } = ctx.settings.listing
  const { both } = await ctx.listing()
  for (const registry of both) {
    const how = registry.kind === 'packyard' ? 'through the API' : 'on disk'
    ctx.progress(`listing: seeding ${repositories} repositories x ${tagsPerRepository} tags into ${registry.kind}, ${how}`)
    const start = process.hrtime.bigint()
    if (registry.kind === 'packyard') await seedThroughApi(registry.ep, repositories, tagsPerRepository, seedConcurrency)
    else seedOnDisk(registry.storage, repositories, tagsPerRepository)
    await checkSeeded(registry, repositories, tagsPerRepository)
    ctx.progress(`listing: seeded ${registry.kind} in ${seconds(start).toFixed(1)} s`)
  }

  const samples = new Samples()
  const stride = Math.max(1, Math.floor(repositories / tagSample))
  for (let round = 0; round < ctx.settings.rounds; round++) {
    for (const registry of roundOrder(both, round)) {
      ctx.progress(`listing: round ${round + 1}, ${registry.kind}, full catalog and ${tagSample} tags lists`)
      const start = process.hrtime.bigint()
      const catalog = await listAllPages(registry.ep, `/v2/_catalog?n=${pageSize}`, 'repositories')
      samples.add('catalog', registry.kind, seconds(start) * 1000)
      const seeded = catalog.items.filter((r) => r.startsWith(`${PREFIX}/r`)).length
      if (seeded !== repositories) throw new Error(`${registry.kind}: the catalog lists ${seeded} of the ${repositories} seeded repositories`)

      const latencies: number[] = []
      for (let j = 0; j < tagSample; j++) {
        const repo = repositoryName((round + j * stride) % repositories)
        const one = process.hrtime.bigint()
        const tags = await listAllPages(registry.ep, `/v2/${repo}/tags/list?n=${pageSize}`, 'tags')
        latencies.push(seconds(one) * 1000)
        if (tags.items.length !== tagsPerRepository) throw new Error(`${registry.kind}: ${repo} lists ${tags.items.length} tags, expected ${tagsPerRepository}`)
      }
      latencies.sort((a, b) => a - b)
      samples.add('tags-p50', registry.kind, percentile(latencies, 50))
      samples.add('tags-p99', registry.kind, percentile(latencies, 99))
    }
  }
  const scenario = 'listing'
  const size = `${repositories.toLocaleString('en-US')} repos x ${tagsPerRepository} tags`
  return [
    samples.figure('catalog', { scenario, name: `full paged catalog (${size}, n=${pageSize})`, unit: 'ms', target: { kind: 'ratio-at-most', ratio: 0.1 } }),
    samples.figure('tags-p50', { scenario, name: `full tags list of one repo (${size}), p50 of ${tagSample}`, unit: 'ms', target: { kind: 'ratio-at-most', ratio: 0.07 } }),
    samples.figure('tags-p99', { scenario, name: `full tags list of one repo (${size}), p99 of ${tagSample}`, unit: 'ms', target: null }),
  ]
}
