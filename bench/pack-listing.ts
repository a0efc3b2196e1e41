// The lone Packyard of the pack listings (ctx.packs), seeded once per run through the /v1 API
// with N of the smallest valid packs, each pushed once and given four alias tags (five tags;
// pushing five versions instead would triple the seeding time for the same number of listed
// tags). The v1 scenario times the full paged GET /v1/_packs on it, the ui scenario the pack
// browser's pages; whichever runs first seeds it, and seeding is never timed.

import type { Context } from './context.js'
import { send } from './http.js'
import { tinyPackArchive } from './packs.js'
import { forEachConcurrent } from './pool.js'
import type { Registry } from './registries.js'
import { seconds } from './stats.js'
import { pushPackV1 } from './v1-client.js'

export const LIST_PREFIX = 'bench-list-'
const ALIASES = ['stable', 'latest', 'edge', 'lts']
/** Every listed pack has five tags: its version and the aliases. */
export const TAGS_PER_PACK = 1 + ALIASES.length

export function listedPackName(index: number): string {
  return `${LIST_PREFIX}${String(index).padStart(6, '0')}`
}

const seeding = new WeakMap<Registry, Promise<void>>()

/**
 * Seeds ctx.packs() (or `on`, a Packyard of the scenario's own: the postgres scenario's) with
 * settings.v1.packs packs the first time it is called in a run for that registry.
 */
export async function seedPackListing(ctx: Context, on?: Registry): Promise<void> {
  const registry = on ?? (await ctx.packs())
  let done = seeding.get(registry)
  if (!done) {
    done = seed(ctx, registry)
    seeding.set(registry, done)
  }
  return done
}

async function seed(ctx: Context, registry: Registry): Promise<void> {
  const { packs, seedConcurrency } = ctx.settings.v1
  const listing = registry.ep
  ctx.progress(`pack listing: seeding ${packs} packs x ${TAGS_PER_PACK} tags`)
  const start = process.hrtime.bigint()
  const names = Array.from({ length: packs }, (_, i) => listedPackName(i))
  await forEachConcurrent(names, seedConcurrency, async (name) => {
    await pushPackV1(listing, await tinyPackArchive(name, '1.0.0'))
    for (const alias of ALIASES) {
      await send(listing, { method: 'PUT', url: `/v1/_packs/${name}/_tags/${alias}`, headers: { 'content-type': 'application/json' }, body: '{"ref":"1.0.0"}', expect: [201] })
    }
  })
  ctx.progress(`pack listing: seeded in ${seconds(start).toFixed(1)} s`)
}
