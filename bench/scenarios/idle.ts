// Idle memory: a fresh Packyard (filesystem storage and htpasswd auth, neither S3 nor Let's
// Encrypt, as the main pair) and a fresh reference registry, each on an empty root, left alone
// for a few seconds once they answer; then their resident set (VmRSS). New ones every round, so
// nothing another scenario did counts. Target: Packyard at most 75 MB (issue 21).

import { join } from 'node:path'
import type { Context } from '../context.js'
import { startPackyard, startReference } from '../registries.js'
import { type Figure, roundOrder, Samples } from '../stats.js'

const STARTERS = { packyard: startPackyard, reference: startReference } as const

export async function idleScenario(ctx: Context): Promise<Figure[]> {
  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    for (const kind of roundOrder(['packyard', 'reference'] as const, round)) {
      ctx.progress(`idle: round ${round + 1}, ${kind}, started and left alone for ${ctx.settings.idle.seconds} s`)
      const registry = ctx.adopt(await STARTERS[kind](join(ctx.work, `idle-${kind}-${round}`), ctx.credentials, ctx.registryOptions))
      await new Promise((resolve) => setTimeout(resolve, ctx.settings.idle.seconds * 1000))
      samples.add('rss', kind, registry.memory().rssMb)
      await registry.stop()
    }
  }
  return [samples.figure('rss', { scenario: 'idle', name: 'idle RSS, just started on an empty root', unit: 'MB', target: { kind: 'max-at-most', value: 75 } })]
}
