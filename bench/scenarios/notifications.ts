// Notifications' cost, Packyard alone: three servers (no endpoint; one endpoint ignoring pulls;
// one endpoint receiving pulls too), each with a receiver in this process that accepts every
// batch. Pushes of small ORAS-style packs by concurrent clients (packs/s) and manifest GETs by
// tag under autocannon (req/s) on each; the push figure with an endpoint is also given as a
// ratio to the one without (target: within 10%), and so is the GET figure with pull events.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { rmSync } from 'node:fs'
import type { Context } from '../context.js'
import { load } from '../load.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE, pushPackOci } from '../oci-client.js'
import { buildPackSet, writeTinyPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { startPackyard } from '../registries.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const SETUPS = [
  { key: 'none', what: 'no endpoint', endpoint: null },
  { key: 'endpoint', what: 'one endpoint, pulls ignored', endpoint: '{name: bench, url: "URL", ignore: {actions: [pull]}}' },
  { key: 'pulls', what: 'one endpoint receiving pull events', endpoint: '{name: bench, url: "URL"}' },
] as const

const PACK = { name: 'bench-pull', version: '1.0.0' }

async function receiver(): Promise<{ server: Server; url: string; events: () => number }> {
  let events = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      events += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: unknown[] }).events.length
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, events: () => events }
}

export async function notificationsScenario(ctx: Context): Promise<Figure[]> {
  const { packs: count, concurrency } = ctx.settings.push
  const { manifestGet } = ctx.settings
  const hook = await receiver()
  try {
    const servers = []
    for (const setup of SETUPS) {
      const env: Record<string, string> = setup.endpoint ? { REGISTRY_NOTIFICATIONS_ENDPOINTS: `[${setup.endpoint.replace('URL', hook.url)}]` } : {}
      const registry = ctx.adopt(await startPackyard(join(ctx.work, `notify-${setup.key}`), ctx.credentials, ctx.registryOptions, undefined, env))
      await pushPackOci(registry.ep, await writeTinyPack(ctx.work, PACK.name, PACK.version))
      servers.push({ ...setup, registry })
    }
    const samples = new Samples()
    for (let round = 0; round < ctx.settings.rounds; round++) {
      const sets = new Map<string, Awaited<ReturnType<typeof buildPackSet>>>()
      for (const setup of SETUPS) {
        sets.set(setup.key, await buildPackSet(ctx.work, { seed: `notify-${round}-${setup.key}`, count, name: (i) => `bench-${String(i).padStart(4, '0')}`, version: () => `${round + 2}.0.0`, sizes: 'small' }))
      }
      const pushRate = new Map<string, number>()
      const getRate = new Map<string, number>()
      for (const s of roundOrder(servers, round)) {
        settleDisk()
        ctx.progress(`notifications: round ${round + 1}, ${s.what}: ${count} pushes, ${concurrency} clients`)
        const start = process.hrtime.bigint()
        await forEachConcurrent(sets.get(s.key) ?? [], concurrency, (pack) => pushPackOci(s.registry.ep, pack))
        pushRate.set(s.key, count / seconds(start))
        ctx.progress(`notifications: round ${round + 1}, ${s.what}: manifest GET at ${manifestGet.connections} connections for ${manifestGet.seconds} s`)
        const gets = await load(s.registry.ep, `/v2/${PACK_NAMESPACE}/${PACK.name}/manifests/${PACK.version}`, { connections: manifestGet.connections, seconds: manifestGet.seconds, headers: { accept: MANIFEST_ACCEPT } })
        getRate.set(s.key, gets.rps)
      }
      for (const setup of SETUPS) {
        samples.add(`push-${setup.key}`, 'packyard', pushRate.get(setup.key) as number)
        samples.add(`get-${setup.key}`, 'packyard', getRate.get(setup.key) as number)
      }
      samples.add('push-ratio', 'packyard', (pushRate.get('endpoint') as number) / (pushRate.get('none') as number))
      samples.add('get-ratio', 'packyard', (getRate.get('pulls') as number) / (getRate.get('none') as number))
      for (const set of sets.values()) for (const pack of set) rmSync(pack.path, { force: true })
    }
    ctx.progress(`notifications: the receiver got ${hook.events()} events`)
    const scenario = 'notifications'
    return [
      ...SETUPS.map((s) => samples.figure(`push-${s.key}`, { scenario, name: `push ${count} small packs, ${concurrency} clients, ${s.what}`, unit: 'packs/s', target: null })),
      samples.figure('push-ratio', { scenario, name: 'pushes with an endpoint / without', unit: 'x', target: { kind: 'median-at-least', value: 0.9 } }),
      ...SETUPS.map((s) => samples.figure(`get-${s.key}`, { scenario, name: `manifest GET by tag, ${manifestGet.connections} connections, ${s.what}`, unit: 'req/s', target: null })),
      samples.figure('get-ratio', { scenario, name: 'manifest GETs with pull events / without an endpoint', unit: 'x', target: null }),
    ]
  } finally {
    await new Promise((resolve) => hook.server.close(resolve))
  }
}
