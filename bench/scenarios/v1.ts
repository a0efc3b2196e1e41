// Scenario 4, Packyard only: its own /v1 pack API. Pushes/s of POST /v1/_packs on the main
// Packyard with the same synthetic size mix as scenario 1, several versions per pack so every
// push also recomputes parent tags. Then the latency of a full paged GET /v1/_packs on the
// pack-listing Packyard (N packs x 5 tags, see pack-listing.ts).

import { rmSync } from 'node:fs'
import type { Context } from '../context.js'
import { listAllPages } from '../http.js'
import { LIST_PREFIX, seedPackListing, TAGS_PER_PACK } from '../pack-listing.js'
import { buildPackSet } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { settleDisk } from '../settle.js'
import { type Figure, Samples, seconds } from '../stats.js'
import { pushPackV1 } from '../v1-client.js'

// Each pack gets this many new versions per round, so parent tags move on every push.
const VERSIONS_PER_ROUND = 6

interface PackEntry {
  name: string
  tags: Array<{ tag: string }>
}

export async function v1Scenario(ctx: Context): Promise<Figure[]> {
  const { pushes, concurrency, packs, pageSize } = ctx.settings.v1
  const ep = (await ctx.main()).packyard.ep
  const samples = new Samples()
  const pushNames = Math.ceil(pushes / VERSIONS_PER_ROUND)
  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`v1: building ${pushes} packs for round ${round + 1}`)
    const set = await buildPackSet(ctx.work, {
      seed: `v1-push-${round}`,
      count: pushes,
      name: (i) => `bench-v1-${String(i % pushNames).padStart(3, '0')}`,
      version: (i) => `${round + 1}.${Math.floor(i / pushNames)}.0`,
    })
    settleDisk()
    ctx.progress(`v1: round ${round + 1}, POST /v1/_packs x ${pushes}, ${concurrency} clients`)
    const start = process.hrtime.bigint()
    await forEachConcurrent(set, concurrency, async (pack) => {
      await pushPackV1(ep, pack)
    })
    samples.add('push', 'packyard', pushes / seconds(start))
    for (const pack of set) rmSync(pack.path, { force: true })
  }

  const listing = (await ctx.packs()).ep
  await seedPackListing(ctx)

  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`v1: round ${round + 1}, full GET /v1/_packs`)
    const start = process.hrtime.bigint()
    const all = await listAllPages<PackEntry>(listing, `/v1/_packs?n=${pageSize}`, 'packs')
    samples.add('list', 'packyard', seconds(start) * 1000)
    const seeded = all.items.filter((p) => p.name.startsWith(LIST_PREFIX))
    if (seeded.length !== packs || seeded.some((p) => p.tags.length !== TAGS_PER_PACK)) {
      throw new Error(`packyard: GET /v1/_packs lists ${seeded.length} of ${packs} seeded packs, or not each with ${TAGS_PER_PACK} tags`)
    }
  }
  const scenario = '4 packyard /v1'
  return [
    samples.figure('push', { scenario, name: `POST /v1/_packs, ${pushes} packs, ${concurrency} clients`, unit: 'pushes/s', target: null }),
    samples.figure('list', {
      scenario,
      name: `full paged GET /v1/_packs (${packs.toLocaleString('en-US')} packs x ${TAGS_PER_PACK} tags, n=${pageSize})`,
      unit: 'ms',
      target: null,
    }),
  ]
}
