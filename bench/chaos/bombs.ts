// Compression bombs on every path that inflates an archive, with the server's CPU time measured
// around each request (user + system of the whole process, every thread, from /proc/PID/stat,
// until the server is quiet again, so that work left running after the answer counts too):
//
// - POST /v1/_packs;
// - a layer uploaded into a pack repository in one request (the upload watcher reads it on the
//   way) on /v2 and on /v1, and in chunks (POST, PATCH, PUT, read by nobody until the manifest);
// - the manifest naming that layer, PUT under the namespace on /v2 and on /v1, which has to
//   look into the layer for a pack.json;
// - the pack browser's file listing of an accepted pack as heavy as the limits allow.
//
// The bombs: GiBs of zeros in a few MB, after a pack.json, before one or without any; an entry
// declaring more than limits.unpackedsize; gzip of zeros with no tar at all; 100,001 entries; a
// gzip member of zeros after a complete pack. Controls: a valid pack and an ordinary artifact
// layer (random bytes, not gzip) must still be taken. Must-be-0: a request over CPU_BOUND_S of
// server CPU, a 5xx, a hang, a crash, a bomb accepted where a refusal is due, a control
// refused, a bomb stored as a pack version.

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EMPTY_CONFIG, EMPTY_CONFIG_DIGEST, OCI_MANIFEST_MEDIA_TYPE, packManifest } from '../../src/packs/oras-manifest.js'
import { json, send } from '../http.js'
import { PACK_NAMESPACE } from '../oci-client.js'
import { randomBytes } from '../random.js'
import { densePack, gzip, multipart, packEntries, type RawEntry, rawTar, tarHeader, zerosBomb, zerosMembers } from './archives.js'
import type { ChaosContext } from './context.js'
import { describe, HANG_MS, type Outcome, type Probe, probe } from './probe.js'
import { atLeast, type Figure, INFO, ZERO } from './report.js'
import { authorization, ChaosServer } from './server.js'
import { ANY_STATUS, sha256 } from './workload.js'

const CATEGORY = 'compression bombs'
/** Server CPU one request may cost, in seconds. */
const CPU_BOUND_S = 2
const MiB = 1 << 20
const BOUNDARY = 'chaos-bomb-boundary'
const OCTET = 'application/octet-stream'
/**
 * The unpacked size of the valid pack the browser lists: reading it costs what hashing and
 * inflating that much costs, whatever the bombs' size.
 */
const DENSE_PACK_BYTES = 64 * MiB

interface Bomb {
  label: string
  bytes: Buffer
}

/** The CPU seconds (user + system, all threads) the process `pid` has used so far. */
function cpuSeconds(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces; the fields after it are fixed: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/**
 * The process's CPU seconds once it has gone quiet (at most one clock tick in each of three
 * 40 ms windows in a row: on a busy machine a working process may miss one window): work a
 * request leaves running after its answer (the upload watcher reading the rest of a layer)
 * counts for that request, not the next.
 */
async function cpuSecondsWhenQuiet(pid: number, ticksPerSecond: number): Promise<number> {
  let last = cpuSeconds(pid, ticksPerSecond)
  let quiet = 0
  for (let waited = 0; waited < 20_000 && quiet < 3; waited += 40) {
    await new Promise((resolve) => setTimeout(resolve, 40))
    const now = cpuSeconds(pid, ticksPerSecond)
    quiet = now - last <= 1 / ticksPerSecond ? quiet + 1 : 0
    last = now
  }
  return last
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
}

function bombs(zeros: number): Bomb[] {
  const gib = `${zeros / 1024 ** 3} GiB`
  const pack = (version: string) => packEntries('chaos-bomb', version)
  const top = (version: string) => `chaos-bomb-${version}`
  return [
    { label: `${gib} of zeros after pack.json`, bytes: zerosBomb(pack('1.0.0'), `${top('1.0.0')}/zeros.bin`, zeros) },
    { label: `${gib} of zeros, no pack.json (as found: 4 MB for 4 GiB)`, bytes: zerosBomb([], 'zeros.bin', zeros) },
    { label: `${gib} of zeros before pack.json`, bytes: zerosBomb([], `${top('1.0.2')}/zeros.bin`, zeros, pack('1.0.2')) },
    {
      label: 'an entry declaring 64 GiB',
      bytes: gzip(Buffer.concat([tarHeader({ name: 'huge.bin', declaredSize: 64 * 1024 * MiB }), Buffer.alloc(4 * MiB)])),
    },
    { label: `gzip of ${gib} of zeros, no tar at all`, bytes: Buffer.concat(zerosMembers(zeros)) },
    {
      label: 'a tar of 100,001 entries, no pack.json',
      bytes: gzip(rawTar(Array.from({ length: 100_001 }, (_, i): RawEntry => ({ name: `f/${i}` })))),
    },
    { label: `gzip members of ${gib} of zeros after a complete pack`, bytes: Buffer.concat([gzip(rawTar(pack('1.0.6'))), ...zerosMembers(zeros)]) },
  ]
}

class Tally {
  cases = 0
  answered5xx = 0
  hangs = 0
  crashes = 0
  accepted = 0
  wrong = 0
  overCpu = 0
  maxCpu = 0
  maxCpuLabel = ''

  constructor(private readonly detail: (line: string) => void) {}

  record(label: string, expect: 'refuse' | 'take', o: Outcome, cpu: number): void {
    this.cases++
    const say = (what: string) => this.detail(`compression bombs ${label}: ${what}: ${describe(o)} (${cpu.toFixed(2)} s of server CPU)`)
    if (cpu > this.maxCpu) {
      this.maxCpu = cpu
      this.maxCpuLabel = label
    }
    if (cpu > CPU_BOUND_S) {
      this.overCpu++
      say(`over ${CPU_BOUND_S} s of server CPU`)
    }
    if (o.kind === 'hang') {
      this.hangs++
      say('hang')
      return
    }
    if (o.kind !== 'answered') {
      say('no answer')
      this.wrong++
      return
    }
    const cls = Math.floor(o.status / 100)
    if (cls === 5) {
      this.answered5xx++
      say('5xx')
    } else if (expect === 'refuse' && cls !== 4) {
      this.accepted++
      say('accepted, a 4xx was due')
    } else if (expect === 'take' && cls !== 2) {
      this.wrong++
      say('refused, it had to be taken')
    }
  }
}

export async function bombsCategory(ctx: ChaosContext): Promise<Figure[]> {
  const server = await ChaosServer.start({ dir: ctx.dir, root: join(ctx.dir, 'root'), users: ctx.users })
  const tally = new Tally(ctx.detail)
  const ticks = clockTicks()
  const admin = authorization(ctx.users.admin)
  try {
    const { zerosBytes } = ctx.settings.bombs
    const cases = bombs(zerosBytes)
    ctx.progress(`compression bombs: ${cases.length} bombs of ${cases.map((b) => (b.bytes.length / MiB).toFixed(1)).join(', ')} MB on 6 paths`)

    /** One request, its outcome and the server CPU it cost; a crash is counted and the server restarted. */
    const measured = async (label: string, expect: 'refuse' | 'take', p: Probe): Promise<Outcome> => {
      const before = cpuSeconds(server.pid, ticks)
      const o = await probe(server.base, { ...p, headers: { authorization: admin, ...p.headers } }, HANG_MS)
      const cpu = server.death() === null ? (await cpuSecondsWhenQuiet(server.pid, ticks)) - before : 0
      tally.record(label, expect, o, cpu)
      const death = server.death()
      if (death !== null) {
        tally.crashes++
        ctx.detail(`compression bombs ${label}: the server died: ${death.slice(-2000)}`)
        await server.restart()
      }
      server.samplePeak()
      return o
    }
    const push = (label: string, expect: 'refuse' | 'take', archive: Buffer) =>
      measured(`POST /v1/_packs: ${label}`, expect, {
        method: 'POST',
        path: '/v1/_packs',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: multipart(BOUNDARY, [{ name: 'archive', filename: 'pack.tar.gz', contentType: 'application/gzip', data: archive }]),
      })
    /** Uploads `layer` into `root` (/v2/NS/NAME or /v1/NAME) as `how` says, then PUTs an ORAS manifest naming it. */
    const throughManifest = async (label: string, expect: 'refuse' | 'take', root: string, how: 'whole' | 'chunks', layer: Buffer) => {
      const digest = sha256(layer)
      if (how === 'whole') {
        await measured(`${root}: upload in one request: ${label}`, 'take', { method: 'POST', path: `${root}/blobs/uploads/?digest=${digest}`, headers: { 'content-type': OCTET }, body: layer })
      } else {
        const started = await measured(`${root}: upload session: ${label}`, 'take', { method: 'POST', path: `${root}/blobs/uploads/` })
        const location = started.kind === 'answered' ? started.headers.location : undefined
        if (location === undefined) return
        const patched = await measured(`${root}: PATCH: ${label}`, 'take', { method: 'PATCH', path: location, headers: { 'content-type': OCTET, 'content-range': `0-${layer.length - 1}` }, body: layer })
        const next = patched.kind === 'answered' ? patched.headers.location : undefined
        if (next === undefined) return
        await measured(`${root}: PUT ?digest=: ${label}`, 'take', { method: 'PUT', path: `${next}${next.includes('?') ? '&' : '?'}digest=${digest}` })
      }
      const manifest = packManifest({ digest, size: layer.length }, 'chaos-bomb-1.0.0.tar.gz').content
      await measured(`${root}: manifest PUT (${how === 'whole' ? 'layer uploaded in one request' : 'layer uploaded in chunks'}): ${label}`, expect, {
        method: 'PUT',
        path: `${root}/manifests/1.0.0`,
        headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE },
        body: manifest,
      })
    }
    const paths: Array<{ root: string; how: 'whole' | 'chunks' }> = [
      { root: `/v2/${PACK_NAMESPACE}/chaos-bomb-v2`, how: 'whole' },
      { root: `/v2/${PACK_NAMESPACE}/chaos-bomb-chunks`, how: 'chunks' },
      { root: '/v1/chaos-bomb-v1', how: 'whole' },
      { root: '/v1/chaos-bomb-v1chunks', how: 'chunks' },
    ]

    const controls = paths.map(({ root, how }) => ({ root: root.replace('chaos-bomb', 'chaos-control'), how }))
    for (const { root } of [...paths, ...controls]) {
      await send(server.admin, { method: 'POST', url: `${root}/blobs/uploads/?digest=${EMPTY_CONFIG_DIGEST}`, headers: { 'content-type': OCTET }, body: EMPTY_CONFIG, expect: [201] })
    }
    for (const bomb of cases) {
      await push(bomb.label, 'refuse', bomb.bytes)
      for (const { root, how } of paths) await throughManifest(bomb.label, 'refuse', root, how, bomb.bytes)
    }

    // Controls: what must still be taken on the same paths.
    const artifact = randomBytes('compression-bombs:artifact', 2 * MiB)
    for (const { root, how } of controls) await throughManifest('an ordinary artifact layer (random bytes, not gzip)', 'take', root, how, artifact)
    const dense = densePack('chaos-dense', '1.0.0', DENSE_PACK_BYTES)
    await push(`a valid pack of ${DENSE_PACK_BYTES / MiB} MiB at 130:1 (under the ratio limit)`, 'take', dense)
    await measured(`GET /packs/chaos-dense/1.0.0: the browser lists the files of a ${DENSE_PACK_BYTES / MiB} MiB pack`, 'take', { method: 'GET', path: '/packs/chaos-dense/1.0.0' })
    const small = gzip(rawTar(packEntries('chaos-control', '2.0.0')))
    await push('a small valid pack', 'take', small)

    // Nothing a bomb carried may have become a pack version, on any surface.
    const listed = json<{ packs: Array<{ name: string; tags: Array<{ kind: string }> }> }>(await send(server.admin, { method: 'GET', url: '/v1/_packs?name=chaos-bomb', expect: ANY_STATUS }))
    const stored = listed.packs.filter((p) => p.tags.some((t) => t.kind === 'version')).map((p) => p.name)
    for (const name of stored) ctx.detail(`compression bombs: ${name} holds a pack version made of a bomb`)
    const death = server.death()
    if (death !== null) {
      tally.crashes++
      ctx.detail(`compression bombs: the server died after the last case: ${death.slice(-2000)}`)
    }
    ctx.progress(`compression bombs: most server CPU for one request ${tally.maxCpu.toFixed(2)} s (${tally.maxCpuLabel})`)
    const figure = (name: string, value: number, rule = ZERO, unit?: string): Figure => ({ category: CATEGORY, name, value, rule, ...(unit ? { unit } : {}) })
    return [
      figure('requests', tally.cases, atLeast(100)),
      figure('answered 5xx', tally.answered5xx),
      figure(`hangs (no answer within ${HANG_MS / 1000} s)`, tally.hangs),
      figure('crashes', tally.crashes),
      figure('bombs accepted where a refusal was due', tally.accepted),
      figure('valid packs, artifacts and uploads refused', tally.wrong),
      figure(`requests over ${CPU_BOUND_S} s of server CPU`, tally.overCpu),
      figure('bombs stored as pack versions', stored.length),
      figure('most server CPU for one request', tally.maxCpu, INFO, 's'),
      figure('server peak RSS', server.samplePeak(), INFO, 'MB'),
    ]
  } finally {
    await server.stop()
  }
}

