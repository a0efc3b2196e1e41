// Packyard only: the pack browser's pages, rendered on the server, on the
// pack-listing Packyard (N packs x 5 tags, seeded once, see pack-listing.ts). Each round asks
// for each page a number of times in a row over one keep-alive connection, as a reader
// clicking through, and keeps the p50 and p99 of the round. The target: the packs page
// in under 50 ms p50 at 10,000 packs.

import type { Context } from '../context.js'
import { send } from '../http.js'
import { listedPackName, seedPackListing } from '../pack-listing.js'
import { type Figure, Samples, seconds, type Target } from '../stats.js'

interface UiPage {
  key: string
  url: string
  name: string
  target: Target | null
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export async function uiScenario(ctx: Context): Promise<Figure[]> {
  const { packs } = ctx.settings.v1
  const { requests } = ctx.settings.ui
  await seedPackListing(ctx)
  const middle = listedPackName(Math.floor(packs / 2))
  const pages: UiPage[] = [
    { key: 'packs', url: '/', name: 'packs page (first 50, by name)', target: { kind: 'max-at-most', value: 50 } },
    { key: 'changed', url: '/?sort=changed', name: 'packs page by last change', target: null },
    { key: 'middle', url: `/?after=${middle}`, name: 'packs page in the middle', target: null },
    { key: 'filtered', url: '/?q=list-0001&layer=addon&cloud=aws', name: 'packs page filtered by name, layer and cloud', target: null },
    { key: 'pack', url: `/packs/${middle}`, name: 'a pack page', target: null },
    { key: 'registry', url: '/registry', name: 'registry page (counts, garbage estimate)', target: null },
  ]

  const ep = (await ctx.packs()).ep
  const first = await send(ep, { method: 'GET', url: '/', expect: [200] })
  const count = `Packs <span class="count">${packs.toLocaleString('en-US')}</span>`
  if (!first.body.toString('utf8').includes(count)) throw new Error(`packyard: the packs page does not say ${count}`)

  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    ctx.progress(`ui: round ${round + 1}, ${pages.length} pages x ${requests} requests`)
    for (const page of pages) {
      const latencies: number[] = []
      for (let i = 0; i < requests; i++) {
        const start = process.hrtime.bigint()
        await send(ep, { method: 'GET', url: page.url, expect: [200] })
        latencies.push(seconds(start) * 1000)
      }
      latencies.sort((a, b) => a - b)
      samples.add(`${page.key}-p50`, 'packyard', percentile(latencies, 50))
      samples.add(`${page.key}-p99`, 'packyard', percentile(latencies, 99))
    }
  }
  const scenario = 'ui'
  const size = `${packs.toLocaleString('en-US')} packs x 5 tags`
  return pages.flatMap((page) => [
    samples.figure(`${page.key}-p50`, { scenario, name: `${page.name} (${size}), p50 of ${requests}`, unit: 'ms', target: page.target }),
    samples.figure(`${page.key}-p99`, { scenario, name: `${page.name} (${size}), p99 of ${requests}`, unit: 'ms', target: null }),
  ])
}
