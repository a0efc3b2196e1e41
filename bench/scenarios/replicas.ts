// Several replicas behind a load balancer (issue 23). Three Packyard processes keep their
// metadata in one durable PostgreSQL (bench/postgres.ts) and their blobs in one filesystem root;
// three nginx instances (test/nginx.ts: round-robin, no stickiness, one worker) stand in front of
// the first one, the first two and all three. Each round, on each of five targets taking turns:
// 1, 2 and 3 replicas through nginx, the main Packyard (SQLite) and the reference registry, both
// direct: small ORAS-style packs (50-300 KB) pushed by 8 concurrent clients, fresh content every
// round as the postgres scenario does (each replica count pushes versions of its own, since the
// replicas share one registry), then manifest GET by tag at 32 connections as pull.ts measures
// it. The reference registry is every figure's reference column.
//
// On one machine the replicas, PostgreSQL, nginx and the load generator share the cores, so more
// replicas cannot add cores; what they change is shown by the CPU each part used, read from /proc
// (bench/cpu.ts) around every measured run: CPU milliseconds per push and CPU microseconds per
// manifest GET, of the Packyard processes, of PostgreSQL (postmaster and backends) and of nginx
// (master and worker), beside the main Packyard's and the reference registry's own. The Packyard
// figure is all three replicas' CPU whichever nginx is measured: the ones not behind it take no
// requests, but anything they do because of the others' writes counts. Every replica and both
// direct registries are warmed up first (pushes and manifest GETs, unmeasured), so no figure
// pays for a process's first requests. Those per-request costs are what carries over to
// separate machines (docs/performance.md reasons from them).

import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from 'pg'
import { type Nginx, startNginx } from '../../test/nginx.js'
import type { Context } from '../context.js'
import { cpuSeconds, parentOf } from '../cpu.js'
import { type Endpoint, endpoint } from '../http.js'
import { load } from '../load.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE, pushPackOci } from '../oci-client.js'
import { buildPackSet, type SyntheticPack, writeTinyPack } from '../packs.js'
import { forEachConcurrent } from '../pool.js'
import { withPostgres } from '../postgres.js'
import { type Registry, startPackyard } from '../registries.js'
import { settleDisk } from '../settle.js'
import { type Figure, roundOrder, Samples, seconds } from '../stats.js'

const REPLICAS = 3
const PACK = { name: 'replicas-bench-pull', version: '1.0.0' }

/** One of the five targets: where to send requests, and whose CPU a run there costs. */
interface Target {
  key: string
  label: string
  ep: Endpoint
  /** the processes serving it, by part (their descendants included) */
  parts: Array<{ part: string; pids: () => number[] }>
}

/** The reference registry's own CPU is the reference column of the rows of Packyard processes. */
const rowOf = (part: string) => (part === 'reference' ? 'packyard' : part)

/** A reading of every part of a target, to subtract from the next one. */
function cpuOf(target: Target): Map<string, number> {
  return new Map(target.parts.map((p) => [p.part, cpuSeconds(p.pids())]))
}

export async function replicasScenario(ctx: Context): Promise<Figure[]> {
  const { packs: count, concurrency } = ctx.settings.push
  const { manifestGet } = ctx.settings
  ctx.progress('replicas: starting PostgreSQL (durable: fsync and synchronous commit on)')
  return withPostgres(async (databaseUrl) => {
    const postmaster = await postmasterOf(databaseUrl)
    const root = join(ctx.work, 'replicas-root')
    const teardowns: Array<() => void | Promise<void>> = []
    const replicas: Registry[] = []
    try {
      ctx.progress(`replicas: starting ${REPLICAS} Packyard replicas on one root and one PostgreSQL`)
      const start = () => startPackyard(root, ctx.credentials, ctx.registryOptions, undefined, { REGISTRY_DATABASE_URL: databaseUrl })
      // The first migrates the empty database; the others, started together, find it done.
      replicas.push(ctx.adopt(await start()))
      for (const r of await Promise.all(Array.from({ length: REPLICAS - 1 }, start))) replicas.push(ctx.adopt(r))
      const nginxes: Nginx[] = []
      for (let n = 1; n <= REPLICAS; n++) {
        nginxes.push(await startNginx({ teardown: (fn) => void teardowns.push(fn) }, replicas.slice(0, n).map((r) => r.ep.base.host)))
      }
      const { packyard: onSqlite, reference } = await ctx.main()
      const { user, password } = ctx.credentials
      const targets: Target[] = [
        ...nginxes.map((nginx, i): Target => {
          const nginxPid = () => [Number(readFileSync(join(nginx.dir, 'nginx.pid'), 'utf8').trim())]
          return {
            key: `replicas-${i + 1}`,
            label: `${i + 1} replica${i === 0 ? '' : 's'} through nginx`,
            ep: endpoint('packyard', nginx.url, user, password, ctx.registryOptions.maxSockets),
            parts: [
              // All of them, behind this nginx or not: whatever a replica does for another's writes counts.
              { part: 'packyard', pids: () => replicas.map((r) => r.pid) },
              { part: 'postgres', pids: () => [postmaster] },
              { part: 'nginx', pids: nginxPid },
            ],
          }
        }),
        { key: 'sqlite', label: 'Packyard on SQLite, direct', ep: onSqlite.ep, parts: [{ part: 'packyard', pids: () => [onSqlite.pid] }] },
        { key: 'reference', label: 'the reference registry, direct', ep: reference.ep, parts: [{ part: 'reference', pids: () => [reference.pid] }] },
      ]
      const samples = new Samples()
      // Every target's value goes in as Packyard's under its own key; the reference's go in as
      // the reference column of every key, so each figure is one target against the reference.
      const add = (metric: string, target: Target, value: number) => {
        if (target.key === 'reference') for (const t of targets.slice(0, -1)) samples.add(`${metric}:${t.key}`, 'reference', value)
        else samples.add(`${metric}:${target.key}`, 'packyard', value)
      }

      const tiny = await writeTinyPack(ctx.work, PACK.name, PACK.version)
      // One push reaches all the replicas: they are one registry.
      const distinct = [targets[REPLICAS - 1] as Target, ...targets.slice(REPLICAS)]
      for (const t of distinct) await pushPackOci(t.ep, tiny)
      // Warm-up, unmeasured: a replica's code is compiled by its first requests, and replicas 2
      // and 3 would otherwise pay for it in the runs they first serve. Through the nginx in front
      // of all three, each replica takes its share.
      ctx.progress(`replicas: warming up every replica and both direct registries`)
      const warm = await buildPackSet(ctx.work, { seed: 'replicas-warm-up', count: 4 * REPLICAS, name: (p) => `replicas-warm-${p}`, version: () => '0.1.0', sizes: 'small' })
      for (const t of distinct) {
        await forEachConcurrent(warm, concurrency, (p) => pushPackOci(t.ep, p))
        await load(t.ep, `/v2/${PACK_NAMESPACE}/${PACK.name}/manifests/${PACK.version}`, { connections: manifestGet.connections, seconds: 1, headers: { accept: MANIFEST_ACCEPT } })
      }
      for (const p of warm) rmSync(p.path, { force: true })

      let megabytes = 0
      for (let round = 0; round < ctx.settings.rounds; round++) {
        // One set per replica count (one registry, so versions of their own), one for both direct targets.
        const sets = new Map<string, SyntheticPack[]>()
        for (const [i, key] of ['direct', ...targets.slice(0, REPLICAS).map((t) => t.key)].entries()) {
          ctx.progress(`replicas: building ${count} packs for round ${round + 1}, ${key}`)
          const set = await buildPackSet(ctx.work, {
            seed: `replicas-${round}-${key}`,
            count,
            name: (p) => `replicas-bench-${String(p).padStart(4, '0')}`,
            version: () => `${round + 1}.${i}.0`,
            sizes: 'small',
          })
          sets.set(key, set)
          megabytes = set.reduce((sum, p) => sum + p.size, 0) / 1e6
        }
        for (const target of roundOrder(targets, round)) {
          const set = sets.get(target.key.startsWith('replicas-') ? target.key : 'direct') as SyntheticPack[]
          settleDisk()
          ctx.progress(`replicas: round ${round + 1}, ${target.label}, push ${count} packs, ${concurrency} clients`)
          let before = cpuOf(target)
          const pushStart = process.hrtime.bigint()
          await forEachConcurrent(set, concurrency, (p) => pushPackOci(target.ep, p))
          add('push', target, count / seconds(pushStart))
          for (const [part, cpu] of cpuOf(target)) add(`push-cpu-${rowOf(part)}`, target, ((cpu - (before.get(part) as number)) * 1000) / count)

          ctx.progress(`replicas: round ${round + 1}, ${target.label}, manifest GET at ${manifestGet.connections} connections for ${manifestGet.seconds} s`)
          before = cpuOf(target)
          const getStart = process.hrtime.bigint()
          const manifests = await load(target.ep, `/v2/${PACK_NAMESPACE}/${PACK.name}/manifests/${PACK.version}`, {
            connections: manifestGet.connections,
            seconds: manifestGet.seconds,
            headers: { accept: MANIFEST_ACCEPT },
          })
          const requests = manifests.rps * seconds(getStart)
          add('manifest-rps', target, manifests.rps)
          for (const [part, cpu] of cpuOf(target)) add(`manifest-cpu-${rowOf(part)}`, target, ((cpu - (before.get(part) as number)) * 1e6) / requests)
        }
        for (const set of sets.values()) for (const p of set) rmSync(p.path, { force: true })
      }

      const scenario = 'replicas'
      const versus = 'reference column: the reference registry, direct'
      const figures: Figure[] = []
      const throughput = (metric: string, name: (label: string) => string, unit: string) => {
        for (const t of targets.slice(0, -1)) figures.push(samples.figure(`${metric}:${t.key}`, { scenario, name: `${name(t.label)} (${versus})`, unit, target: null }))
      }
      throughput('push', (label) => `push ${count} small ORAS-style packs (50-300 KB, ~${megabytes.toFixed(0)} MB), ${concurrency} concurrent clients, ${label}`, 'packs/s')
      throughput('manifest-rps', (label) => `manifest GET by tag, ${manifestGet.connections} connections, ${label}`, 'req/s')
      const cpu = (metric: string, what: string, unit: string) => {
        const sqlite = targets[REPLICAS] as Target
        figures.push(samples.figure(`${metric}-packyard:${sqlite.key}`, { scenario, name: `CPU per ${what}, ${sqlite.label}: its process (${versus})`, unit, target: null }))
        for (const t of targets.slice(0, REPLICAS)) {
          for (const part of ['packyard', 'postgres', 'nginx']) {
            const whose = part === 'packyard' ? 'the Packyard processes' : part === 'postgres' ? 'PostgreSQL' : 'nginx'
            figures.push(samples.figure(`${metric}-${part}:${t.key}`, { scenario, name: `CPU per ${what}, ${t.label}: ${whose} (${versus})`, unit, target: null }))
          }
        }
      }
      cpu('push-cpu', 'push', 'ms')
      cpu('manifest-cpu', 'manifest GET', 'µs')
      return figures
    } finally {
      // Before PostgreSQL goes: a Packyard whose database vanished under it would only log errors.
      await Promise.all(replicas.map((r) => r.stop()))
      for (const teardown of teardowns.reverse()) await teardown()
    }
  })
}

/** The PostgreSQL server's main process: the parent of the backend serving a connection. */
async function postmasterOf(databaseUrl: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    return parentOf((rows[0] as { pid: number }).pid)
  } finally {
    await client.end()
  }
}
