import t from 'tap'
import { Readable } from 'node:stream'
import { existsSync, writeFileSync, utimesSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { collectGarbage } from '../../src/maintenance/gc.js'
import { checkStore } from '../../src/maintenance/fsck.js'
import { openDatabase } from '../../src/meta/db.js'
import { rootLayout } from '../../src/store/layout.js'
import type { FilesystemBlobStore as Fs } from '../../src/store/fs.js'
import { ADMIN, runBin, testApp } from '../helpers.js'
import { archive, get, packFiles, push, pushPack } from '../pack-fixtures.js'
import { putBlob } from '../../src/store/types.js'

const LATER = () => Date.now() + 60_000

t.test('garbage collection removes what replaced and deleted packs left, keeps the rest', async (t) => {
  const app = await testApp(t)
  const store = app.registry.store as Fs
  const first = await pushPack(app, {})
  const second = (await push(app, await archive(packFiles({}, { 'values.yaml': 'changed: true\n' })), { force: 'true', message: 'new values' })).json()
  const other = await pushPack(app, { name: 'other' })
  await app.inject({ method: 'DELETE', url: '/v1/_packs/other/1.0.0', headers: { authorization: ADMIN } })
  const orphan = await putBlob(store, Readable.from([Buffer.from('uploaded, never used')]))

  const dry = await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: true, graceMs: 0, now: LATER() })
  const removed = dry.blobsRemoved.map((b) => b.digest)
  t.ok(removed.includes(first.digest), 'the replaced archive')
  t.ok(removed.includes(other.digest), 'the deleted pack archive')
  t.ok(removed.includes(orphan.digest), 'the orphan upload')
  t.notOk(removed.includes(second.digest), 'the current archive stays')
  t.ok(existsSync(store.pathOf(first.digest)), 'dry run removes nothing')

  const real = await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: false, graceMs: 0, now: LATER() })
  t.same(real.blobsRemoved.map((b) => b.digest).sort(), removed.sort())
  t.notOk(existsSync(store.pathOf(first.digest)))
  const pulled = await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')
  t.equal(pulled.statusCode, 200, 'the current version still pulls')
  t.equal(pulled.headers['docker-content-digest'], second.digest)
  t.equal((await get(app, '/v1/_packs/hellouniverse/1.0.0/files/values.yaml')).body, 'changed: true\n')
  const again = await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: false, graceMs: 0, now: LATER() })
  t.equal(again.blobsRemoved.length, 0, 'nothing left to collect')
  t.same((await checkStore(app.registry.db, store)).problems, [], 'fsck is clean after collection')
})

t.test('one run at a time: a second run while one collects is refused, a dry run goes beside it', async (t) => {
  const app = await testApp(t)
  const store = app.registry.store as Fs
  await putBlob(store, Readable.from([Buffer.from('uploaded, never used')]))
  const options = { actor: 'test', graceMs: 0, now: LATER() }
  const [first, second, dry] = await Promise.allSettled([
    collectGarbage(app.registry.db, store, app.registry.staging, { ...options, dryRun: false }),
    collectGarbage(app.registry.db, store, app.registry.staging, { ...options, dryRun: false }),
    collectGarbage(app.registry.db, store, app.registry.staging, { ...options, dryRun: true }),
  ])
  t.equal(first.status, 'fulfilled')
  t.match(second, { status: 'rejected', reason: { message: /another garbage collection is running on this registry's database/ } })
  t.equal(dry.status, 'fulfilled')
  t.equal((await collectGarbage(app.registry.db, store, app.registry.staging, { ...options, dryRun: false })).blobsRemoved.length, 0, 'free again once the first ended')
})

t.test('the grace period protects new blobs; reusing an old blob makes it new again', async (t) => {
  const app = await testApp(t)
  const store = app.registry.store as Fs
  const orphan = await putBlob(store, Readable.from([Buffer.from('fresh')]))
  const report = await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: false, graceMs: 3_600_000 })
  t.equal(report.blobsRemoved.length, 0)
  t.ok(existsSync(store.pathOf(orphan.digest)))
  const old = new Date(Date.now() - 7_200_000)
  utimesSync(store.pathOf(orphan.digest), old, old)
  await putBlob(store, Readable.from([Buffer.from('fresh')]))
  t.equal((await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: false, graceMs: 3_600_000 })).blobsRemoved.length, 0, 'a put of the same bytes refreshed it')
})

t.test('staged files nobody owns are removed once idle for an hour, whatever the grace', async (t) => {
  const app = await testApp(t)
  const store = app.registry.store as Fs
  const temp = join(store.uploadsDir, 'put-abandoned')
  writeFileSync(temp, 'half a blob')
  const report = await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: false, graceMs: 0, now: LATER() })
  t.same(report.tempFilesRemoved, [], 'a write in progress (written within the hour) is never touched, even at grace 0')
  const old = new Date(Date.now() - 2 * 3600_000)
  utimesSync(temp, old, old)
  const later = await collectGarbage(app.registry.db, store, app.registry.staging, { actor: 'test', dryRun: false, graceMs: 3_600_000 })
  t.same(later.tempFilesRemoved, ['put-abandoned'])
  t.notOk(existsSync(temp))
})

t.test('a run that fails partway is recorded with what it removed until then', async (t) => {
  const app = await testApp(t)
  const store = app.registry.store
  for (const text of ['one', 'two', 'three']) await putBlob(store, Readable.from([Buffer.from(`orphan ${text}`)]))
  // The storage fails on the second deletion (a full disk, a lost mount).
  let deletions = 0
  const failing = Object.create(store, {
    delete: {
      value: async (digest: string) => {
        if (++deletions === 2) throw new Error('the storage went away')
        return store.delete(digest)
      },
    },
  })
  await t.rejects(collectGarbage(app.registry.db, failing, app.registry.staging, { actor: 'ops', dryRun: false, graceMs: 0, now: LATER() }), /the storage went away/)
  const gc = (await get(app, '/v1/_events?user=ops')).json().events as Array<{ action: string; detail: Record<string, unknown> }>
  t.equal(gc.length, 1)
  t.match(gc[0], { action: 'gc', detail: { blobsRemoved: 1, failed: 'the storage went away' } })
})

t.test('fsck finds corrupt and missing blobs and names their users', async (t) => {
  const app = await testApp(t)
  const store = app.registry.store as Fs
  const pushed = await pushPack(app, {})
  t.same((await checkStore(app.registry.db, store)).problems, [])
  writeFileSync(store.pathOf(pushed.digest), 'bit rot')
  const report = await checkStore(app.registry.db, store)
  t.equal(report.problems.length, 1)
  t.match(report.problems[0], { digest: pushed.digest, problem: 'corrupt', usedBy: ['pack hellouniverse 1.0.0', /^manifest hellouniverse@sha256:/] })
  await store.delete(pushed.digest)
  t.match((await checkStore(app.registry.db, store)).problems, [{ digest: pushed.digest, problem: 'missing' }])
})

t.test('the commands against a stopped server\'s data', async (t) => {
  const app = await testApp(t)
  const config = app.registry.config
  await pushPack(app, {})
  const orphan = await putBlob(app.registry.store, Readable.from([Buffer.from('orphan')]))
  await app.close()
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: config.storage.rootdirectory, REGISTRY_LOG_LEVEL: 'silent' }
  const unsafe = await runBin(['garbage-collect', '--grace', '30s'], { env, cwd: config.storage.rootdirectory })
  t.equal(unsafe.code, 1)
  t.match(unsafe.stderr, /--grace 30s is shorter than 1m.*--force/)
  const dry = await runBin(['garbage-collect', '--dry-run', '--grace', '0s', '--force'], { env, cwd: config.storage.rootdirectory })
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, orphan.digest)
  t.match(dry.stdout, /\nwould remove: 1 blob \(6 B\)\n/)
  const real = await runBin(['garbage-collect', '--grace', '0s', '--force'], { env, cwd: config.storage.rootdirectory })
  t.match(
    real.stdout,
    new RegExp(
      `^${orphan.digest}  6 B  stored \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC, no record in the metadata\n` +
        'removed: 1 blob \\(6 B\\)\nwithin the 0s grace period: no unreferenced blobs\n' +
        'stored without a record in the metadata \\(a failed or unfinished push\\), counted above but not on the registry page: 1 blob \\(6 B\\)\n' +
        'temp files of interrupted writes: removed 0\nin use \\(a pack version or manifest refers to them\\): \\d+ blobs\n$',
    ),
  )
  const db = await openDatabase({ kind: 'sqlite', path: rootLayout(config.storage.rootdirectory).database })
  const runs = (await db.prepare("SELECT actor, repository, detail FROM events WHERE action = 'gc'").all()) as Array<{ actor: string; repository: string; detail: string }>
  await db.close()
  t.equal(runs.length, 1, 'the run is in the event log; the dry run is not')
  t.match(runs[0], { actor: userInfo().username, repository: '' })
  t.match(JSON.parse(runs[0]?.detail ?? '{}'), { blobsRemoved: 1, bytesFreed: 6, tempFilesRemoved: 0, graceSeconds: 0 })
  const fsck = await runBin(['fsck'], { env, cwd: config.storage.rootdirectory })
  t.equal(fsck.code, 0, fsck.stderr)
  t.match(fsck.stdout, /checked \d+ blobs .*: no problems/)
  const badGrace = await runBin(['garbage-collect', '--grace', 'soon'], { env })
  t.equal(badGrace.code, 2, 'a usage mistake, not a config problem')
  t.match(badGrace.stderr, /^Error: --grace must be a duration/)
  const memory = await runBin(['fsck'], { env: { REGISTRY_STORAGE: 'inmemory' } })
  t.equal(memory.code, 1)
  t.match(memory.stderr, /in memory/)
})
