// Scenario 4, Packyard only: its own /v1 pack API. Pushes/s of POST /v1/_packs on the main
// Packyard with the same synthetic size mix as scenario 1, several versions per pack so every
// push also recomputes parent tags. Then the latency of a full paged GET /v1/_packs on a
// Packyard of its own, seeded through the same API with N of the smallest valid packs, each pushed
// once and given four alias tags (five tags; pushing five versions instead would triple the
// seeding time for the same number of listed tags).

import { rmSync } from 'node:fs'
import type { Context } from '../context.js'
import { listAllPages, send } from '../http.js'
import { buildPackSet, tinyPackArchive } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { settleDisk } from '../settle.js'
import { type Figure, Samples, seconds } from '../stats.js'
import { pushPackV1 } from '../v1-client.js'

// Each pack gets this many new versions per round, so parent tags move on every push.
const VERSIONS_PER_ROUND = 6
const LIST_PREFIX = 'bench-list-'
// Every listed pack has five tags: its version and these.
const ALIASES = ['stable', 'latest', 'edge', 'lts']
const TAGS_PER_PACK = 1 + ALIASES.length

interface PackEntry {
  name: string
  tags: Array<{ tag: string }>
}

export async function v1Scenario(ctx: Context): Promise<Figure[]> {
  const { pushes, concurrency, packs, pageSize, seedConcurrency } = ctx.settings.v1
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
  ctx.progress(`v1: seeding ${packs} packs x ${TAGS_PER_PACK} tags`)
  const seedStart = process.hrtime.bigint()
  const names = Array.from({ length: packs }, (_, i) => `${LIST_PREFIX}${String(i).padStart(6, '0')}`)
  await forEachConcurrent(names, seedConcurrency, async (name) => {
    await pushPackV1(listing, await tinyPackArchive(name, '1.0.0'))
    for (const alias of ALIASES) {
      await send(listing, { method: 'PUT', url: `/v1/_packs/${name}/_tags/${alias}`, headers: { 'content-type': 'application/json' }, body: '{"ref":"1.0.0"}', expect: [201] })
    }
  })
  ctx.progress(`v1: seeded in ${seconds(seedStart).toFixed(1)} s`)

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
