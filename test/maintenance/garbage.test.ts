// The one assessment of unreferenced blobs behind the registry page and `packyard
// garbage-collect`: the grace period's boundary and the words (pure, table-driven), the
// metadata's clock (accepting the same bytes again restarts it), and the page and the command
// (run in this process beside the server) showing the same figures, the dry run removing nothing.

import t, { type Test } from 'tap'
import { existsSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { formatDuration, parseDuration } from '../../src/config/duration.js'
import { formatBytes } from '../../src/format.js'
import { amountText, DEFAULT_GRACE_MS, emptySummary, instantText, judge, summaryLines, tally, type Verdict } from '../../src/maintenance/garbage.js'
import { BlobMeta } from '../../src/meta/blobs.js'
import { MaintenanceMeta } from '../../src/meta/maintenance.js'
import type { FilesystemBlobStore } from '../../src/store/fs.js'
import { putBlob } from '../../src/store/types.js'
import { ADMIN, runCliHere, tempDir, testApp } from '../helpers.js'
import { archive, get, packFiles, push, pushPack, uploadBlob } from '../pack-fixtures.js'

const HOUR = 3_600_000

t.test('judge: a blob goes once the grace period after its last acceptance has passed, never while leased', async (t) => {
  const cases: Array<[string, { since: number; leased: boolean }, number, number, Verdict]> = [
    ['one ms past the grace period', { since: 0, leased: false }, HOUR + 1, HOUR, 'removable'],
    ['exactly the grace period old', { since: 0, leased: false }, HOUR, HOUR, 'within grace'],
    ['younger than the grace period', { since: 0, leased: false }, 1000, HOUR, 'within grace'],
    ['grace 0, one ms old', { since: 0, leased: false }, 1, 0, 'removable'],
    ['grace 0, accepted this very ms', { since: 5, leased: false }, 5, 0, 'within grace'],
    ['accepted after now (another host\'s clock)', { since: 10_000, leased: false }, 0, 0, 'within grace'],
    ['leased, long past the grace period', { since: 0, leased: true }, 10 * HOUR, HOUR, 'leased'],
    ['leased and young', { since: 0, leased: true }, 1, HOUR, 'leased'],
  ]
  for (const [name, blob, now, grace, verdict] of cases) t.equal(judge(blob, now, grace), verdict, name)
})

t.test('tally and the words: what goes, what the grace period keeps and from when, what pushes hold', async (t) => {
  const now = Date.UTC(2026, 11, 7, 8, 0, 0)
  const summary = emptySummary(HOUR)
  const blobs = [
    { digest: 'sha256:a', size: 1000, since: now - 2 * HOUR, leased: false },
    { digest: 'sha256:b', size: 2048, since: now - HOUR - 1, leased: false },
    { digest: 'sha256:c', size: 10, since: now - 30 * 60_000, leased: false },
    { digest: 'sha256:d', size: 20, since: now - 45 * 60_000, leased: false },
    { digest: 'sha256:e', size: 5, since: now - 5 * HOUR, leased: true },
  ]
  t.same(
    blobs.map((b) => tally(summary, b, now)),
    ['removable', 'removable', 'within grace', 'within grace', 'leased'],
  )
  t.same(summary, {
    graceMs: HOUR,
    removable: { blobs: 2, bytes: 3048 },
    withinGrace: { blobs: 2, bytes: 30, firstRemovableAt: now + 15 * 60_000 },
    leased: { blobs: 1, bytes: 5 },
  })
  t.same(summaryLines(summary, 'removable now'), [
    'removable now: 2 blobs (3.0 KiB)',
    'within the 1h grace period: 2 blobs (30 B) nothing refers to, the first removable after 2026-12-07 08:15:00 UTC',
    'held by pushes in progress: 1 blob (5 B)',
  ])
  t.same(summaryLines(emptySummary(90_000), 'removed'), ['removed: 0 blobs (0 B)', 'within the 1m30s grace period: no unreferenced blobs'], 'nothing held: no line for it')
})

t.test('formatDuration writes what parseDuration reads', async (t) => {
  const cases: Array<[number, string]> = [
    [HOUR, '1h'],
    [90 * 60_000, '1h30m'],
    [90_000, '1m30s'],
    [500, '500ms'],
    [0, '0s'],
    [26 * HOUR + 1, '26h1ms'],
  ]
  for (const [ms, text] of cases) {
    t.equal(formatDuration(ms), text)
    t.equal(parseDuration(text), ms, `${text} reads back`)
  }
})

/** The registry page's garbage-collection lines. */
async function pageLines(t: Test, app: FastifyInstance): Promise<string[]> {
  const res = await get(app, '/registry')
  t.equal(res.statusCode, 200)
  const list = /<dt>Garbage collection<\/dt><dd>\s*<ul>(.*?)<\/ul>/s.exec(res.body)?.[1] ?? ''
  return [...list.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1] as string)
}

async function backdate(t: Test, app: FastifyInstance, digest: string, at: number): Promise<void> {
  t.equal((await app.registry.db.prepare('UPDATE blobs SET created_at = ? WHERE digest = ?').run(at, digest)).changes, 1, `${digest} is recorded`)
}

/** Uploads a blob to team/app that no manifest refers to. */
async function upload(t: Test, app: FastifyInstance, text: string): Promise<{ digest: string; size: number }> {
  const res = await uploadBlob(app, 'team/app', Buffer.from(text))
  t.equal(res.statusCode, 201)
  return { digest: res.headers['docker-content-digest'] as string, size: Buffer.byteLength(text) }
}

t.test('accepting the same bytes again restarts the grace period', async (t) => {
  const app = await testApp(t)
  const blob = await upload(t, app, 'uploaded twice')
  await backdate(t, app, blob.digest, Date.now() - 2 * HOUR)
  t.equal((await pageLines(t, app))[0], `removable now: ${amountText({ blobs: 1, bytes: blob.size })}`)
  await upload(t, app, 'uploaded twice')
  const lines = await pageLines(t, app)
  t.equal(lines[0], 'removable now: 0 blobs (0 B)')
  t.match(lines[1], `within the 1h grace period: ${amountText({ blobs: 1, bytes: blob.size })} nothing refers to`)
  const { id } = (await app.registry.db.prepare("SELECT id FROM repositories WHERE name = 'team/app'").get()) as { id: number }
  await new BlobMeta(app.registry.db).recordInRepository(id, blob, 0)
  t.match((await pageLines(t, app))[1], 'within the 1h grace period: 1 blob', 'an older acceptance never moves the clock back')

  // A cross-repository mount accepts the bytes again too.
  await backdate(t, app, blob.digest, Date.now() - 2 * HOUR)
  t.equal((await pageLines(t, app))[0], `removable now: ${amountText({ blobs: 1, bytes: blob.size })}`)
  const mounted = await app.inject({ method: 'POST', url: `/v2/team/other/blobs/uploads/?mount=${blob.digest}&from=team/app`, headers: { authorization: ADMIN } })
  t.equal(mounted.statusCode, 201, 'mounted')
  t.equal((await pageLines(t, app))[0], 'removable now: 0 blobs (0 B)', 'the mount restarted its grace period')
})

t.test('the registry page and garbage-collect show the same figures; --dry-run lists and removes nothing', async (t) => {
  const root = join(tempDir(t), 'data')
  const app = await testApp(t, { storage: { filesystem: { rootdirectory: root } } })
  const store = app.registry.store as FilesystemBlobStore
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root }
  const now = Date.now()

  // Left by a forced push three hours ago (the old archive and the file it changed): removable.
  await pushPack(app, {})
  await push(app, await archive(packFiles({}, { 'values.yaml': 'changed: true\n' })), { force: 'true', message: 'new values' })
  const replaced = await new MaintenanceMeta(app.registry.db).unreferencedBlobs(0)
  t.equal(replaced.length, 2, 'the old archive and its values.yaml')
  for (const blob of replaced) await backdate(t, app, blob.digest, now - 3 * HOUR)
  // Uploaded for a manifest that never came, two hours ago: removable.
  const abandoned = await upload(t, app, 'abandoned upload')
  await backdate(t, app, abandoned.digest, now - 2 * HOUR)
  // Uploaded twenty minutes ago, its manifest may still come: within the grace period.
  const waiting = await upload(t, app, 'waiting for its manifest')
  await backdate(t, app, waiting.digest, now - 20 * 60_000)
  // Old, but a push in progress is about to reference it: held.
  const held = await upload(t, app, 'a push is about to use me')
  await backdate(t, app, held.digest, now - 5 * HOUR)
  await new BlobMeta(app.registry.db).takeLease('push-in-progress', [held.digest], Date.now())
  // Bytes a failed push stored without a record, two hours ago: only the command sees them.
  const unrecorded = await putBlob(store, Readable.from([Buffer.from('left by a failed push')]))
  const old = new Date(now - 2 * HOUR)
  utimesSync(store.pathOf(unrecorded.digest), old, old)

  const recordedRemovable = { blobs: 3, bytes: replaced.reduce((sum, b) => sum + b.size, 0) + abandoned.size }
  const withinLine = `within the 1h grace period: ${amountText({ blobs: 1, bytes: waiting.size })} nothing refers to, the first removable after ${instantText(now - 20 * 60_000 + DEFAULT_GRACE_MS)}`
  const heldLine = `held by pushes in progress: ${amountText({ blobs: 1, bytes: held.size })}`
  t.same(await pageLines(t, app), [`removable now: ${amountText(recordedRemovable)}`, withinLine, heldLine])

  const blobLine = (b: { digest: string; size: number }, at: number, recorded = true) =>
    `${b.digest}  ${formatBytes(b.size)}  ${recorded ? `last accepted ${instantText(at)}` : `stored ${instantText(at)}, no record in the metadata`}`
  const expectedBlobs = [...replaced.map((b) => blobLine(b, now - 3 * HOUR)), blobLine(abandoned, now - 2 * HOUR)].sort()
  const all = { blobs: 4, bytes: recordedRemovable.bytes + unrecorded.size }
  const totals = (verb: string) => [
    `${verb}: ${amountText(all)}`,
    withinLine,
    heldLine,
    `stored without a record in the metadata (a failed or unfinished push), counted above but not on the registry page: ${amountText({ blobs: 1, bytes: unrecorded.size })}`,
    `temp files of interrupted writes: ${verb} 0`,
  ]

  const dry = await runCliHere(['garbage-collect', '--dry-run'], { env })
  t.equal(dry.code, 0, dry.stderr)
  const dryLines = dry.stdout.trimEnd().split('\n')
  t.same(dryLines.slice(0, 4), [...expectedBlobs, blobLine(unrecorded, old.getTime(), false)], 'each blob it would remove: digest, size, when')
  t.same(dryLines.slice(4, -1), totals('would remove'))
  t.match(dryLines.at(-1), /^in use \(a pack version or manifest refers to them\): \d+ blobs$/)
  for (const digest of [...replaced.map((b) => b.digest), abandoned.digest, unrecorded.digest]) t.ok(existsSync(store.pathOf(digest)), `${digest} is still stored`)
  t.same(await pageLines(t, app), [`removable now: ${amountText(recordedRemovable)}`, withinLine, heldLine], 'the dry run changed nothing')

  const real = await runCliHere(['garbage-collect'], { env })
  t.equal(real.code, 0, real.stderr)
  const realLines = real.stdout.trimEnd().split('\n')
  t.same(realLines.slice(0, 4), dryLines.slice(0, 4), 'it removed what the dry run listed')
  t.same(realLines.slice(4, -1), totals('removed'))
  for (const digest of [...replaced.map((b) => b.digest), abandoned.digest, unrecorded.digest]) t.notOk(existsSync(store.pathOf(digest)), `${digest} is gone`)
  for (const digest of [waiting.digest, held.digest]) t.ok(existsSync(store.pathOf(digest)), `${digest} is kept`)
  t.same(await pageLines(t, app), ['removable now: 0 blobs (0 B)', withinLine, heldLine], 'the page agrees on what is left')
  t.equal((await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')).statusCode, 200, 'the current version still pulls')
})

t.test('--help says what the command prints and that a dry run removes nothing', async (t) => {
  const help = await runCliHere(['garbage-collect', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, 'Prints each blob it removes (digest, size, when its bytes were last accepted)')
  t.match(help.stdout, 'the unreferenced blobs still within the grace period')
  t.match(help.stdout, '--dry-run prints the same and removes nothing')
})
