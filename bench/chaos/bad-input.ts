// Bad input over every route of /v1 and /v2 (the cases are made in bad-input-cases.ts). After a
// small setup (packs and tags on /v1, a plain OCI repository and an ORAS-pushed pack on /v2), it
// sends generated malformed requests, one connection each, and classifies every outcome (probe.ts):
// - credentials: none, garbled, unknown user, wrong password, wrong scheme, on every route,
//   each from its own client address so that no lockout hides the routes behind a 429;
// - the read-only user on every write route (must be 403);
// - bad names, references, digests, ranges and pagination parameters on every route taking one;
// - archives: truncated, not gzip, gzip and tar bombs, lying headers, traversal, links, devices,
//   missing/huge/deep/invalid pack.json, YAML bombs, oversized served files;
// - multipart bodies cut short or without a closing boundary, without boundary=, with extra,
//   missing or malformed parts and fields; wrong and missing media types;
// - JSON bodies of the tag route; manifests with bad JSON, shapes, sizes, media types and
//   descriptors whose size is not the blob's; upload sessions with bad ranges and ids;
// - `?type=text/html` on /v1/NAME/blobs/DIGEST (must be 400), DELETE of a version through a
//   parent tag or an alias (must be 400), wrong methods, huge URLs and header sets;
// - stalled bodies (all at once: the server's body idle timeout is 2 s) and connections
//   dropped in the middle of an upload; then random mutations of valid archives and manifests.
// Every case says what a correct server does: refuse it with a 4xx (some with an exact status),
// or handle it (any answer below 500: a multi-range request may be served whole). The figures
// count 5xx, hangs, crashes (the server is restarted and the campaign goes on), bad input
// accepted, wrong refusals, temp files left behind by dropped and stalled uploads, files
// written outside the storage root (traversal entries name a unique marker, searched for
// afterwards), and the server's peak resident memory.

import { existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { type Endpoint, send } from '../http.js'
import { allCases, type Case, setUp } from './bad-input-cases.js'
import type { ChaosContext } from './context.js'
import { describe, HANG_MS, type Outcome, probe } from './probe.js'
import { atLeast, type Figure, INFO, ZERO } from './report.js'
import { ChaosServer } from './server.js'
import { ANY_STATUS } from './workload.js'

const CATEGORY = 'bad input'

class Tally {
  cases = 0
  answered4xx = 0
  answered5xx = 0
  hangs = 0
  closed = 0
  accepted = 0
  wrong = 0
  crashes = 0
  slowestMs = 0
  slowestLabel = ''
  readonly timings = new Map<string, number>()

  constructor(private readonly detail: (line: string) => void) {}

  record(c: Case, o: Outcome): void {
    this.cases++
    const say = (what: string) => this.detail(`bad input [${c.family}] ${c.label}: ${what}: ${describe(o)}`)
    if (o.kind === 'hang') {
      this.hangs++
      say('hang')
      return
    }
    if (o.kind === 'aborted') return
    if (o.ms > this.slowestMs) {
      this.slowestMs = o.ms
      this.slowestLabel = c.label
    }
    this.timings.set(c.label, o.ms)
    if (o.ms > 2000 && c.expect !== 'stall') this.detail(`bad input [${c.family}] ${c.label}: (informative) slow: ${describe(o)}`)
    if (o.kind === 'closed') {
      this.closed++
      if (c.expect !== 'stall') this.detail(`bad input [${c.family}] ${c.label}: (informative) ${describe(o)}`)
      return
    }
    const cls = Math.floor(o.status / 100)
    if (cls === 5) {
      this.answered5xx++
      say('5xx')
      return
    }
    if (cls === 4) this.answered4xx++
    if ((c.expect === 'refuse' || c.expect === 'stall') && cls !== 4) {
      this.accepted++
      say('accepted, a 4xx was due')
    } else if (c.status && cls === 4 && !c.status.includes(o.status)) {
      this.wrong++
      say(`refused with the wrong status (${c.status.join(' or ')} required)`)
    } else if (c.check) {
      const problem = c.check(o)
      if (problem) {
        this.wrong++
        say(problem)
      }
    }
  }
}

/** Every file under `dir` whose name contains `marker`. */
function findMarked(dir: string, marker: string, depth: number): string[] {
  if (depth < 0 || !existsSync(dir)) return []
  const found: string[] = []
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  for (const e of entries) {
    const path = join(dir, e.name)
    if (e.name.includes(marker)) found.push(path)
    if (e.isDirectory() && !e.isSymbolicLink()) found.push(...findMarked(path, marker, depth - 1))
  }
  return found
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1
  return n
}

export async function badInputCategory(ctx: ChaosContext): Promise<Figure[]> {
  const root = join(ctx.dir, 'root')
  const server = await ChaosServer.start({ dir: ctx.dir, root, users: ctx.users })
  const tally = new Tally(ctx.detail)
  try {
    const f = await setUp(server, ctx)
    const cwdBefore = new Set(readdirSync(ctx.dir))
    const { sequential, stalls } = await allCases(f, ctx)
    ctx.progress(`bad input: ${sequential.length + stalls.length} cases`)
    let peak = server.samplePeak()
    // A server may die of an earlier request (a timer firing after the answer): name the last few.
    const recent: string[] = []
    const afterCase = async (c: Case, o: Outcome) => {
      // A crash shows as a dropped connection; its exit event may trail the socket's by a little.
      if (o.kind !== 'answered') await new Promise((resolve) => setTimeout(resolve, 300))
      tally.record(c, o)
      recent.push(c.label)
      if (recent.length > 4) recent.shift()
      const death = server.death()
      if (death !== null) {
        tally.crashes++
        ctx.detail(`bad input [${c.family}] the server died during or after one of: ${recent.join(' | ')}: ${death.slice(-2000)}`)
        await server.restart()
      }
      const now = server.samplePeak()
      if (now > peak + 50) ctx.detail(`bad input [${c.family}] ${c.label}: (informative) the server's peak RSS rose from ${peak.toFixed(0)} to ${now.toFixed(0)} MB`)
      peak = now
    }
    let done = 0
    let making = 0
    for (const c of sequential) {
      const t = Date.now()
      const p = await c.make()
      making += Date.now() - t
      await afterCase(c, await probe(server.base, p))
      if (++done % 100 === 0) ctx.progress(`bad input: ${done} cases done`)
    }
    ctx.progress(`bad input: ${(making / 1000).toFixed(1)} s spent making the requests`)
    // All at once: each waits for the server's body idle timeout.
    const probes = await Promise.all(stalls.map(async (c) => ({ c, p: await c.make() })))
    const outcomes = await Promise.all(probes.map(({ p }) => probe(server.base, p)))
    for (const [i, o] of outcomes.entries()) await afterCase(probes[i]!.c, o)

    // Temp files: cancel the sessions the cases opened (they may rightly hold bytes), give the
    // server its idle timeout to clean up, then whatever is left under uploads/ was leaked.
    const locations = new Set<string>()
    const ep: Endpoint = server.admin
    for (const dir of [join(root, 'uploads')]) for (const name of existsSync(dir) ? readdirSync(dir) : []) locations.add(`/v2/${f.plain}/blobs/uploads/${name}`)
    for (const location of locations) await send(ep, { method: 'DELETE', url: location, expect: ANY_STATUS })
    let leaked = countFiles(join(root, 'uploads'))
    for (let waited = 0; leaked > 0 && waited < 5000; waited += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      leaked = countFiles(join(root, 'uploads'))
    }
    if (leaked > 0) ctx.detail(`bad input: ${leaked} files left in ${join(root, 'uploads')}: ${readdirSync(join(root, 'uploads')).slice(0, 10).join(', ')}`)

    const outside = [
      ...findMarked(ctx.dir, f.marker, 8),
      ...findMarked(tmpdir(), f.marker, 1),
      ...findMarked('/tmp', f.marker, 1),
      ...findMarked('/', f.marker, 0),
      ...findMarked(PACKAGE_ROOT, f.marker, 1),
    ]
    const newInCwd = readdirSync(ctx.dir).filter((name) => !cwdBefore.has(name))
    for (const path of outside) ctx.detail(`bad input: a file named after a traversal entry exists: ${path}`)
    for (const name of newInCwd) ctx.detail(`bad input: a new file appeared in the server's working directory: ${name}`)
    const death = server.death()
    if (death !== null) {
      tally.crashes++
      ctx.detail(`bad input: the server died after the last case: ${death.slice(-2000)}`)
    }

    // No case may have replaced a pack version: each still reads as the pack it was.
    let replaced = 0
    for (const [pack, ref, digest] of [[f.pack, '1.0.0', f.archiveDigest], [f.pack, 'stable', f.archiveDigest], ['chaos-oras', '1.0.0', f.orasArchive.digest], ['chaos-oras', '1.x', f.orasArchive.digest]] as const) {
      const answer = await send(ep, { method: 'GET', url: `/v1/_packs/${pack}/${ref}`, expect: ANY_STATUS })
      const found = answer.status === 200 ? (JSON.parse(answer.body.toString('utf8')) as { digest: string }).digest : `status ${answer.status}`
      if (found !== digest) {
        replaced++
        ctx.detail(`bad input: ${pack}:${ref} no longer reads as the pack version ${digest} (${found})`)
      }
    }
    const bomb = [...tally.timings.entries()].filter(([label]) => label.includes('gzip bomb')).map(([, ms]) => ms)
    const figure = (name: string, value: number, rule = ZERO, unit?: string): Figure => ({ category: CATEGORY, name, value, rule, ...(unit ? { unit } : {}) })
    ctx.progress(`bad input: slowest answer ${(tally.slowestMs / 1000).toFixed(1)} s (${tally.slowestLabel})`)
    return [
      figure('cases', tally.cases, atLeast(300)),
      figure('answered 4xx', tally.answered4xx, INFO),
      figure('answered 5xx', tally.answered5xx),
      figure(`hangs (no answer within ${HANG_MS / 1000} s)`, tally.hangs),
      figure('crashes', tally.crashes),
      figure('bad input accepted (2xx/3xx where a 4xx was due)', tally.accepted),
      figure('refusals with the wrong status or headers', tally.wrong),
      figure('connections closed without an answer', tally.closed, INFO),
      figure('temp files left by dropped and stalled uploads', leaked),
      figure('files written outside the storage root', outside.length + newInCwd.length),
      figure('pack versions replaced by what a case pushed', replaced),
      figure('slowest answer', tally.slowestMs / 1000, INFO, 's'),
      figure('gzip bomb refused after (slowest)', bomb.length > 0 ? Math.max(...bomb) / 1000 : 0, INFO, 's'),
      figure('server peak RSS', server.samplePeak(), INFO, 'MB'),
    ]
  } finally {
    await server.stop()
  }
}
