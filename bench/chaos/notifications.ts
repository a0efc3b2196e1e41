// Notifications under kill -9 rounds: the server has one endpoint, a receiver in this process
// that refuses one batch in five with a 500 (so retries happen across the kills too); writers
// push over /v1 and /v2 while the server is killed with SIGKILL at a random moment and
// restarted on the same root. After the last restart every acknowledged push must have its
// event delivered (matched by the pack archive among the event's references), first
// deliveries in the order the changes were made; duplicates (a batch resent after a kill) are
// allowed by at-least-once delivery and only counted.

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { DistributionEvent } from '../../src/notifications/events.js'
import { Prng } from '../random.js'
import type { ChaosContext } from './context.js'
import { type Figure, INFO, POSITIVE, ZERO } from './report.js'
import { ChaosServer } from './server.js'
import { Ledger, Writers } from './workload.js'

const CATEGORY = 'notifications'
/** How long the last restart may take to deliver what is pending. */
const DRAIN_MS = 60_000

export async function notificationsCategory(ctx: ChaosContext): Promise<Figure[]> {
  const { rounds, writers: writerCount, minMs, maxMs } = ctx.settings.kill
  const prng = new Prng('chaos-notifications')
  const seen = new Map<string, DistributionEvent>()
  const firstOrder: DistributionEvent[] = []
  let deliveries = 0
  let refusedBatches = 0
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (prng.next() < 0.2) {
        refusedBatches++
        res.writeHead(500).end()
        return
      }
      for (const e of (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: DistributionEvent[] }).events) {
        deliveries++
        if (seen.has(e.id)) continue
        seen.set(e.id, e)
        firstOrder.push(e)
      }
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`

  const ledger = new Ledger(ctx.detail)
  const writers = new Writers(ledger, ctx.dir, 'notify', writerCount)
  const server = await ChaosServer.start({
    dir: ctx.dir,
    root: join(ctx.dir, 'root'),
    users: ctx.users,
    notifications: { events: { includereferences: true }, endpoints: [{ name: 'chaos', url, timeout: '2s', backoff: '50ms', threshold: 5 }] },
  })
  let crashes = 0
  try {
    for (let round = 1; round <= rounds; round++) {
      let killed = false
      const running = writers.run(server, () => killed || server.death() !== null)
      await new Promise((resolve) => setTimeout(resolve, prng.int(minMs, maxMs)))
      if (server.death() !== null) {
        crashes++
        ctx.detail(`notifications round ${round}: the server died before it was killed: ${server.death()?.slice(-500)}`)
      }
      killed = true
      await server.kill9()
      await running
      await server.restart()
      ctx.progress(`notifications round ${round}/${rounds}: ${ledger.acknowledged} pushes acknowledged, ${seen.size} events delivered so far`)
    }
    const archives = () => new Set(firstOrder.filter((e) => e.action === 'push').flatMap((e) => (e.target.references ?? []).map((r) => r.digest)))
    const until = Date.now() + DRAIN_MS
    while (ledger.acknowledgedDigests.some((d) => !archives().has(d)) && Date.now() < until) await new Promise((r) => setTimeout(r, 200))
    const delivered = archives()
    const lost = ledger.acknowledgedDigests.filter((d) => !delivered.has(d))
    for (const digest of lost.slice(0, 50)) ctx.detail(`the push of archive ${digest} was acknowledged; its event never arrived`)
    // Each change's event is written in its transaction, so first deliveries follow commit order.
    let outOfOrder = 0
    firstOrder.forEach((e, i) => {
      const previous = firstOrder[i - 1]
      if (previous && Date.parse(e.timestamp) < Date.parse(previous.timestamp)) {
        outOfOrder++
        ctx.detail(`event ${e.id} (${e.timestamp}) arrived after ${previous.id} (${previous.timestamp})`)
      }
    })
    const figure = (name: string, value: number, rule = ZERO): Figure => ({ category: CATEGORY, name, value, rule })
    return [
      figure('rounds', rounds, POSITIVE),
      figure('pushes acknowledged', ledger.acknowledged, POSITIVE),
      figure('events delivered (distinct ids)', seen.size, POSITIVE),
      figure('acknowledged pushes whose event never arrived', lost.length),
      figure('events first delivered out of order', outOfOrder),
      figure('duplicate deliveries (resent after a kill or a refused batch)', deliveries - seen.size, INFO),
      figure('batches the receiver refused (500)', refusedBatches, INFO),
      figure('pushes answered 5xx', ledger.serverErrors),
      figure('crashes (died before the kill)', crashes),
    ]
  } finally {
    await server.stop()
    receiver.closeAllConnections()
    await new Promise((resolve) => receiver.close(resolve))
  }
}
