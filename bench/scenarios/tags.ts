// Packyard only: what a tag write costs as a pack's tags grow. One pack on the main Packyard gets
// aliases added one by one up to N; the latency of the first adds (at about 100 tags) and of the
// last ones (at about N) are kept, and their ratio is the figure that must stay flat: a tag write
// touches its own line and row, never every tag of the pack. Then the size of the pack's detail
// (GET /v1/_packs/NAME), whose tags come a page at a time however many there are.

import type { Context } from '../context.js'
import { send } from '../http.js'
import { tinyPackArchive } from '../packs.js'
import { type Figure, Samples, seconds } from '../stats.js'
import { pushPackV1 } from '../v1-client.js'

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

export async function tagsScenario(ctx: Context): Promise<Figure[]> {
  const { count, sample } = ctx.settings.tags
  const { packyard } = await ctx.main()
  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    const name = `bench-tags-${round}`
    await pushPackV1(packyard.ep, await tinyPackArchive(name, '1.0.0'))
    const early: number[] = []
    const late: number[] = []
    for (let i = 0; i < count; i++) {
      if (i % 1000 === 0) ctx.progress(`tags: round ${round + 1}, ${i} of ${count} aliases`)
      const start = process.hrtime.bigint()
      await send(packyard.ep, {
        method: 'PUT',
        url: `/v1/_packs/${name}/_tags/alias-${String(i).padStart(6, '0')}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ref: '1.0.0' }),
        expect: [201],
      })
      const ms = seconds(start) * 1000
      if (i >= 100 && i < 100 + sample) early.push(ms)
      if (i >= count - sample) late.push(ms)
    }
    samples.add('early', 'packyard', median(early))
    samples.add('late', 'packyard', median(late))
    samples.add('growth', 'packyard', median(late) / median(early))
    const detail = await send(packyard.ep, { method: 'GET', url: `/v1/_packs/${name}`, expect: [200] })
    samples.add('detail', 'packyard', detail.bytes / 1024)
  }
  const scenario = 'tags'
  const n = count.toLocaleString('en-US')
  return [
    samples.figure('early', { scenario, name: `alias tag added to a pack with about 100 tags, p50 of ${sample}`, unit: 'ms', target: null }),
    samples.figure('late', { scenario, name: `alias tag added to a pack with about ${n} tags, p50 of ${sample}`, unit: 'ms', target: null }),
    samples.figure('growth', { scenario, name: `tag write at ${n} tags / at 100 tags`, unit: 'x', target: { kind: 'median-at-most', value: 1.5 } }),
    samples.figure('detail', { scenario, name: `GET /v1/_packs/NAME of a pack with ${n} tags (one page of tags)`, unit: 'KiB', target: { kind: 'median-at-most', value: 512 } }),
  ]
}
