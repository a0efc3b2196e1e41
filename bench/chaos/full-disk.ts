// A full disk. The suite mounts a small tmpfs (48 MB) as the storage root (blobs, uploads and
// registry.db all live there), then pushes packs over /v1 and /v2 until the server refuses
// them: large packs first, then smaller and smaller ones, so that the last bytes, and the
// database, fill up too. Every refused archive is pushed again at once (a blob left truncated
// under its digest would now be trusted: the defect this category was written for). While the
// disk is full it checks that every acknowledged archive is still served intact, that a tag
// and a version can be deleted through the API, and that `packyard garbage-collect` can free
// the space; then that pushes succeed again, that the refused archives can now be pushed and
// pull back intact, and that `packyard fsck` finds no damaged blob.
//
// Mounting needs root. Under CI=true a failed mount fails the run; elsewhere the category
// reports that it did not run. The tmpfs is unmounted in `finally`, and by the runner's exit
// handler if the process is interrupted.

import { execFileSync } from 'node:child_process'
import { mkdirSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import { send } from '../http.js'
import { seededPackArchive } from '../packs.js'
import type { ChaosContext } from './context.js'
import { type Figure, INFO, POSITIVE, TRUE, ZERO } from './report.js'
import { describe, probe } from './probe.js'
import { authorization, ChaosServer, fsck, runCli } from './server.js'
import { ANY_STATUS, type PackToPush, pushArchive, sha256, type Surface } from './workload.js'

const CATEGORY = 'full disk'

const mounted = new Set<string>()

/** For the runner's exit handler: no tmpfs outlives the campaign. */
export function unmountAllNow(): void {
  for (const dir of mounted) {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    } catch {
      // already gone
    }
    mounted.delete(dir)
  }
}

function freeMb(dir: string): number {
  const fs = statfsSync(dir)
  return (fs.bavail * fs.bsize) / 1e6
}

interface Pushed extends PackToPush {
  surface: Surface
}

/** The figures of a category that did not run: every value null (NOT RUN). */
function notRun(reason: string): Figure[] {
  return ['writes refused with 507', 'writes answered another 5xx', 'corrupt blobs', 'reads that failed while full'].map((name) => ({
    category: CATEGORY,
    name: `${name} (not run: ${reason})`,
    value: null,
    rule: ZERO,
  }))
}

export async function fullDiskCategory(ctx: ChaosContext): Promise<Figure[]> {
  const mountPoint = join(ctx.dir, 'tmpfs')
  mkdirSync(mountPoint, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${ctx.settings.fullDisk.tmpfsMb}m`, 'tmpfs', mountPoint], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    const reason = `mount -t tmpfs failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || String(err)}`
    ctx.detail(reason)
    if (process.env.CI === 'true') return [{ category: CATEGORY, name: 'tmpfs mounted (CI=true requires it)', value: false, rule: TRUE }]
    ctx.progress(`full disk: not run (${reason}); run as root to include it`)
    return notRun('needs root to mount a tmpfs')
  }
  mounted.add(mountPoint)
  const server = await ChaosServer.start({ dir: ctx.dir, root: join(mountPoint, 'root'), users: ctx.users }).catch(async (err: unknown) => {
    unmountAllNow()
    throw err
  })
  try {
    return await fillAndRecover(ctx, server, mountPoint)
  } finally {
    await server.stop()
    execFileSync('umount', [mountPoint])
    mounted.delete(mountPoint)
  }
}

async function fillAndRecover(ctx: ChaosContext, server: ChaosServer, mountPoint: string): Promise<Figure[]> {
  const ep = () => server.admin
  const scratch = join(ctx.dir, 'v2.tar.gz')
  const acked: Pushed[] = []
  const refused: Pushed[] = []
  let refused507 = 0
  let other5xx = 0
  let other4xx = 0
  let acceptedOnRetry = 0
  let counter = 0
  const make = async (size: number, surface: Surface): Promise<Pushed> => {
    const i = counter++
    const name = `disk-${i % 8}`
    const version = `${1 + (i % 3)}.${Math.floor(i / 24)}.${i % 24}`
    const archive = await seededPackArchive(name, version, `disk:${i}`, size)
    return { name, version, archive, digest: sha256(archive), surface }
  }
  /** Pushes; true when acknowledged. Counts the refusals. */
  const push = async (pack: Pushed, retry: boolean): Promise<boolean> => {
    const outcome = await pushArchive(ep(), pack.surface, pack, { forced: false, scratch })
    if (outcome.status !== null && outcome.status < 300) {
      acked.push(pack)
      if (retry) acceptedOnRetry++
      return true
    }
    if (outcome.status === 507) refused507++
    else if (outcome.status === null || outcome.status >= 500) {
      other5xx++
      ctx.detail(`full disk: push of ${pack.name}:${pack.version} (${pack.archive.length} bytes, ${pack.surface}) got ${outcome.text}`)
    } else {
      other4xx++
      ctx.detail(`full disk: push of ${pack.name}:${pack.version} refused with ${outcome.text}`)
    }
    return false
  }

  // An alias to delete once the disk is full.
  const keep = await make(20_000, 'v1')
  if (!(await push(keep, false))) throw new Error('full disk: the first push into an empty tmpfs failed')
  await send(ep(), { method: 'PUT', url: `/v1/_packs/${keep.name}/_tags/stable`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ref: keep.version }), expect: [201] })

  for (const size of [1_500_000, 150_000, 15_000, 1_000]) {
    let consecutive = 0
    for (let attempt = 0; consecutive < 3 && attempt < 120; attempt++) {
      const pack = await make(size, counter % 3 === 2 ? 'v2' : 'v1')
      if (await push(pack, false)) {
        consecutive = 0
        continue
      }
      consecutive++
      refused.push(pack)
      // The same bytes again: a truncated blob left under this digest must not be trusted.
      if (await push(pack, true)) refused.pop()
    }
  }
  const ackedUntilFull = acked.length
  ctx.progress(`full disk: ${ackedUntilFull} pushes acknowledged, ${refused507} refused with 507, ${other5xx} other 5xx; ${freeMb(mountPoint).toFixed(1)} MB free`)

  let corrupt = 0
  const checkFsck = async (when: string) => {
    const result = await fsck(server)
    if (result.problems !== 0) ctx.detail(`fsck ${when}${result.problems === null ? ' could not run' : ''}: ${result.output.slice(0, 1000)}`)
    // fsck failing to run counts as damage: nothing proves the blobs whole.
    corrupt += result.problems ?? 1
  }
  /** Fetches every acknowledged archive; returns how many were served intact. */
  const readAll = async (when: string): Promise<{ served: number; failed: number }> => {
    let served = 0
    let failed = 0
    for (const p of acked) {
      // probe.ts, not a keep-alive client: a truncated blob is served short and must not stall the rest.
      const o = await probe(server.base, { method: 'GET', path: `/v1/_packs/${p.name}/${p.version}/archive`, headers: { authorization: authorization(ctx.users.admin) }, keep: 0 })
      if (o.kind === 'answered' && o.status === 200 && o.digest === p.digest) served++
      else if (o.kind === 'answered' && o.status === 200) {
        corrupt++
        ctx.detail(`full disk, ${when}: ${p.name}:${p.version} served ${o.bytes} bytes that do not hash to ${p.digest} (${p.archive.length} bytes)`)
      } else {
        failed++
        ctx.detail(`full disk, ${when}: GET ${p.name}:${p.version} archive: ${describe(o)}`)
      }
    }
    return { served, failed }
  }

  const whileFull = await readAll('while full')
  const health = await send(ep(), { method: 'GET', url: '/health', expect: ANY_STATUS })
  const tagDelete = await send(ep(), { method: 'DELETE', url: `/v1/_packs/${keep.name}/_tags/stable`, expect: ANY_STATUS })
  if (tagDelete.status !== 200) ctx.detail(`full disk: DELETE tag while full answered ${tagDelete.status} ${tagDelete.body.toString('utf8', 0, 300)}`)
  const victim = acked.find((p) => p !== keep) as Pushed
  const versionDelete = await send(ep(), { method: 'DELETE', url: `/v1/_packs/${victim.name}/${victim.version}`, expect: ANY_STATUS })
  if (versionDelete.status !== 200) ctx.detail(`full disk: DELETE version while full answered ${versionDelete.status} ${versionDelete.body.toString('utf8', 0, 300)}`)
  else acked.splice(acked.indexOf(victim), 1)
  await checkFsck('while full')

  // Free space: delete half of the versions, then collect with no grace while the server runs.
  const doomed = acked.filter((p, i) => p !== keep && i % 2 === 0)
  for (const p of doomed) {
    const answer = await send(ep(), { method: 'DELETE', url: `/v1/_packs/${p.name}/${p.version}`, expect: ANY_STATUS })
    if (answer.status === 200) acked.splice(acked.indexOf(p), 1)
  }
  const freeBefore = freeMb(mountPoint)
  const gc = await runCli(['garbage-collect', server.config, '--grace', '0s', '--force'], ctx.dir)
  if (gc.code !== 0) ctx.detail(`full disk: garbage-collect --grace 0s --force exited ${gc.code}: ${`${gc.stdout}${gc.stderr}`.trim().slice(0, 300)}`)
  const freed = freeMb(mountPoint) - freeBefore
  ctx.progress(`full disk: deleted ${doomed.length} versions; garbage-collect freed ${freed.toFixed(1)} MB`)

  let recoveredPushes = 0
  const fresh = 3
  for (let i = 0; i < fresh; i++) if (await push(await make(100_000, i === 1 ? 'v2' : 'v1'), false)) recoveredPushes++
  let refusedNowAccepted = 0
  for (const p of refused.slice(0, 10)) if (await push(p, false)) refusedNowAccepted++
  const afterRecovery = await readAll('after recovery')
  await checkFsck('after recovery')
  const crash = server.death()
  if (crash !== null) ctx.detail(`full disk: the server died: ${crash.slice(-500)}`)

  const figure = (name: string, value: number | boolean, rule = ZERO): Figure => ({ category: CATEGORY, name, value, rule })
  return [
    figure('pushes acknowledged until full', ackedUntilFull, INFO),
    figure('writes refused with 507', refused507, POSITIVE),
    figure('writes answered another 5xx (or no answer)', other5xx),
    figure('writes refused with another 4xx', other4xx, INFO),
    figure('refused archives accepted when pushed again while full', acceptedOnRetry, INFO),
    figure('corrupt blobs (fsck and re-hash)', corrupt),
    figure('reads served while full', whileFull.served, POSITIVE),
    figure('reads that failed while full', whileFull.failed + afterRecovery.failed),
    figure('GET /health status while full', health.status, INFO),
    figure('tag deleted while full', tagDelete.status === 200, TRUE),
    figure('version deleted while full', versionDelete.status === 200, TRUE),
    figure('garbage-collect freed space while full', gc.code === 0 && freed > 0, TRUE),
    figure('pushes succeed after space is freed', recoveredPushes === fresh, TRUE),
    figure('refused archives pushed after recovery', refusedNowAccepted, INFO),
    figure('crashes', crash === null ? 0 : 1),
  ]
}
