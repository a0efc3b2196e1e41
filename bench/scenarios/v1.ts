// Packyard's own /v1 pack API. Pushes/s of POST /v1/_packs on the main Packyard with the push
// scenario's mixed sizes, several versions per pack so every push also recomputes parent tags;
// beside it the same packs (the same bytes but for the pack name) pushed over /v2 the ORAS way,
// to Packyard and to the reference registry, with as many clients. Then the latency of a full
// paged GET /v1/_packs on the pack-listing Packyard (N packs x 5 tags, see pack-listing.ts),
// and the full paged /v2/_catalog of that Packyard for comparison.

import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Context } from '../context.js'
import { type Endpoint, listAllPages } from '../http.js'
import { pushPackOci } from '../oci-client.js'
import { LIST_PREFIX, seedPackListing, TAGS_PER_PACK } from '../pack-listing.js'
import { buildPackSet, type PackSetSpec, type SyntheticPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import type { RegistryKind } from '../registries.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'
import { pushPackV1 } from '../v1-client.js'

// Each pack gets this many new versions per round, so parent tags move on every push. A client
// pushes one pack's versions in order, as a pack author does: the reference registry answers
// MANIFEST_BLOB_UNKNOWN now and then when two clients push versions of one repository at once.
const VERSIONS_PER_ROUND = 3

interface PackEntry {
  name: string
  tags: Array<{ tag: string }>
}

/** One of the timed pushes of a round: a surface of a registry and the samples it adds to. */
interface Pusher {
  label: string
  ep: Endpoint
  push: (ep: Endpoint, pack: SyntheticPack) => Promise<unknown>
  set: SyntheticPack[]
  /** where its packs/s go: the /v1 figure (reference column: Packyard over /v2) or the /v2 one */
  samples: Array<{ samples: Samples; key: string; kind: RegistryKind }>
}

/** The set's packs by name (pack `i` is named `i % names`), each pack's versions in order. */
function byPack(set: SyntheticPack[], names: number): SyntheticPack[][] {
  return Array.from({ length: names }, (_, name) => set.filter((_, i) => i % names === name))
}

export async function v1Scenario(ctx: Context): Promise<Figure[]> {
  const { pushes, concurrency, packs, pageSize } = ctx.settings.v1
  const { packyard, reference } = await ctx.main()
  const samples = new Samples()
  const versusV2 = new Samples()
  const pushNames = Math.ceil(pushes / VERSIONS_PER_ROUND)
  let megabytes = 0
  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`v1: building ${pushes} packs for round ${round + 1}, and the same named for /v2`)
    // The same seed in two folders: the same sizes and bytes, only the names differ.
    const spec = (prefix: string): PackSetSpec => ({
      seed: `v1-push-${round}`,
      count: pushes,
      name: (i) => `${prefix}${String(i % pushNames).padStart(3, '0')}`,
      version: (i) => `${round + 1}.${Math.floor(i / pushNames)}.0`,
    })
    const v2Dir = join(ctx.work, `v1-round-${round}-over-v2`)
    mkdirSync(v2Dir)
    const v1Set = await buildPackSet(ctx.work, spec('bench-v1-'))
    const v2Set = await buildPackSet(v2Dir, spec('bench-v1-over-v2-'))
    megabytes = v1Set.reduce((sum, p) => sum + p.size, 0) / 1e6
    const pushers: Pusher[] = [
      { label: 'packyard, POST /v1/_packs', ep: packyard.ep, push: pushPackV1, set: v1Set, samples: [{ samples: versusV2, key: 'push', kind: 'packyard' }] },
      {
        label: 'packyard, /v2 ORAS push',
        ep: packyard.ep,
        push: pushPackOci,
        set: v2Set,
        samples: [
          { samples: versusV2, key: 'push', kind: 'reference' },
          { samples, key: 'v2-push', kind: 'packyard' },
        ],
      },
      { label: 'reference, /v2 ORAS push', ep: reference.ep, push: pushPackOci, set: v2Set, samples: [{ samples, key: 'v2-push', kind: 'reference' }] },
    ]
    for (const pusher of roundOrder(pushers, round)) {
      settleDisk()
      ctx.progress(`v1: round ${round + 1}, ${pusher.label} x ${pushes}, ${concurrency} clients`)
      const start = process.hrtime.bigint()
      await forEachConcurrent(byPack(pusher.set, pushNames), concurrency, async (versions) => {
        for (const pack of versions) await pusher.push(pusher.ep, pack)
      })
      const rate = pushes / seconds(start)
      for (const to of pusher.samples) to.samples.add(to.key, to.kind, rate)
    }
    for (const pack of [...v1Set, ...v2Set]) rmSync(pack.path, { force: true })
  }

  const listing = (await ctx.packs()).ep
  await seedPackListing(ctx)

  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`v1: round ${round + 1}, full GET /v1/_packs and /v2/_catalog`)
    const start = process.hrtime.bigint()
    const all = await listAllPages<PackEntry>(listing, `/v1/_packs?n=${pageSize}`, 'packs')
    samples.add('list', 'packyard', seconds(start) * 1000)
    const seeded = all.items.filter((p) => p.name.startsWith(LIST_PREFIX))
    if (seeded.length !== packs || seeded.some((p) => p.tags.length !== TAGS_PER_PACK)) {
      throw new Error(`packyard: GET /v1/_packs lists ${seeded.length} of ${packs} seeded packs, or not each with ${TAGS_PER_PACK} tags`)
    }
    const catalogStart = process.hrtime.bigint()
    const catalog = await listAllPages(listing, `/v2/_catalog?n=${pageSize}`, 'repositories')
    samples.add('catalog', 'packyard', seconds(catalogStart) * 1000)
    if (catalog.items.length < packs) throw new Error(`packyard: GET /v2/_catalog lists ${catalog.items.length} repositories, expected at least ${packs}`)
  }
  const scenario = 'v1'
  const size = `${packs.toLocaleString('en-US')} packs x ${TAGS_PER_PACK} tags, n=${pageSize}`
  const set = `${pushes} packs (~${megabytes.toFixed(0)} MB, ${pushNames} x ${VERSIONS_PER_ROUND} versions)`
  return [
    versusV2.figure('push', {
      scenario,
      name: `POST /v1/_packs, ${set}, ${concurrency} clients (reference column: Packyard, the same packs over /v2)`,
      unit: 'pushes/s',
      target: { kind: 'median-at-least', value: 80 },
    }),
    samples.figure('v2-push', { scenario, name: `/v2 ORAS push of the same packs, ${concurrency} clients`, unit: 'pushes/s', target: null }),
    samples.figure('list', { scenario, name: `full paged GET /v1/_packs (${size})`, unit: 'ms', target: { kind: 'median-at-most', value: 150 } }),
    samples.figure('catalog', { scenario, name: `full paged GET /v2/_catalog of the same Packyard (n=${pageSize})`, unit: 'ms', target: null }),
  ]
}
