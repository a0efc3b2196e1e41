// packyard backup and restore. Under load: a real server process takes pushes (new versions and
// forced updates, some with megabytes of content) from several writers while `packyard backup`
// runs beside it and garbage collection runs at grace 0; the backup is restored into a fresh
// root, a server started on it, and every pack acknowledged before the snapshot pulls back byte
// for byte, with fsck clean. In process: garbage collection during the copy cannot take a blob
// the snapshot needs; a long copy renews its lease; restore refuses what it must; and on S3
// storage the blobs come out of one bucket prefix and go back into another through BlobStore.

import t, { type Test } from 'tap'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { BlobIntake } from '../../src/blobs/intake.js'
import { loadConfig } from '../../src/config/load.js'
import { backupRegistry } from '../../src/maintenance/backup.js'
import { collectGarbage } from '../../src/maintenance/gc.js'
import { BlobMeta } from '../../src/meta/blobs.js'
import { readMigrations } from '../../src/meta/migrations.js'
import { sha256Digest } from '../../src/store/digest.js'
import { lockRoot } from '../../src/store/root-lock.js'
import { putBlob } from '../../src/store/types.js'
import { ADMIN, basic, runCliHere, startServer, tempDir, testApp } from '../helpers.js'
import { archive, get, multipart, packFiles, pushPack } from '../pack-fixtures.js'
import { s3ConfigDoc, s3Env, startS3Server } from '../s3-helpers.js'

const FAR_FUTURE = () => Date.now() + 24 * 3600_000

function writeConfig(dir: string, root: string): string {
  const file = join(dir, `${root.split('/').pop()}.yml`)
  writeFileSync(file, `log:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: 127.0.0.1:0\nauth:\n  htpasswd:\n    realm: basic-realm\n`)
  return file
}

interface Ack {
  tag: string
  name: string
  digest: string
  bytes: Buffer
  at: number
}

t.test('backup while writers push, restore into a fresh root: every pack acknowledged before the snapshot pulls back identical', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'live')
  const config = writeConfig(dir, root)
  const server = await startServer(t, [config], {}, dir)
  const auth = basic('admin', readFileSync(join(root, 'initial-admin-password'), 'utf8').trim())

  const acks: Ack[] = []
  const pushOne = async (name: string, version: string, extra: Record<string, string | Buffer>, form: Record<string, string> = {}) => {
    const tgz = await archive(packFiles({ name, version }, extra))
    const body = multipart(form, tgz)
    const res = await fetch(`${server.url}/v1/_packs`, { method: 'POST', body: new Uint8Array(body.payload), headers: { ...body.headers, authorization: auth } })
    const text = await res.text()
    if (res.status !== 200 && res.status !== 201) throw new Error(`push ${name}:${version} answered ${res.status}: ${text}`)
    acks.push({ tag: `${name}:${version}`, name, digest: (JSON.parse(text) as { digest: string }).digest, bytes: tgz, at: Date.now() })
  }
  let pushing = true
  const writer = async (w: number) => {
    for (let i = 0; pushing; i++) {
      // Every third push carries megabytes, so the backup's copy overlaps the pushes.
      const big: Record<string, Buffer> = i % 3 === 0 ? { 'charts/blob.bin': randomBytes(2 * 1024 * 1024) } : {}
      await pushOne(`pack-${w}`, `1.0.${i}`, { 'README.md': `writer ${w} push ${i}`, ...big })
      // A forced update of one tag: its previous archive becomes garbage for the collector.
      await pushOne(`moving-${w}`, '1.0.0', { 'README.md': `update ${i} ${randomBytes(4).toString('hex')}` }, { force: 'true', message: `update ${i}` })
    }
  }
  const writers = [0, 1, 2].map(writer)
  let collecting = true
  const collector = (async () => {
    while (collecting) {
      const gc = await runCliHere(['garbage-collect', config, '--grace', '0s', '--force'])
      if (gc.code !== 0) throw new Error(gc.stderr)
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  while (acks.length < 12) await new Promise((r) => setTimeout(r, 20))

  const dest = join(dir, 'backup')
  const backupStarted = Date.now()
  const backup = await runCliHere(['backup', dest, config])
  const backupEnded = Date.now()
  const acksDuringBackup = acks.length
  t.equal(backup.code, 0, backup.stderr)
  t.match(backup.stdout, /^Snapshot of the metadata taken at \S+; copying \d+ blobs\nCopied \d+ blobs \([^)]+\) and the users \(htpasswd\) and the config \(config\.yml\) to .*\nBackup complete: /)
  while (acks.length < acksDuringBackup + 6) await new Promise((r) => setTimeout(r, 20))
  pushing = false
  collecting = false
  await Promise.all([...writers, collector])
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)

  const manifest = JSON.parse(readFileSync(join(dest, 'backup.json'), 'utf8')) as { snapshotAt: string; blobs: number }
  const snapshotAt = Date.parse(manifest.snapshotAt)
  const before = acks.filter((a) => a.at < snapshotAt)
  t.ok(before.length >= 12, `${before.length} pushes acknowledged before the snapshot`)
  const whileCopying = acks.filter((a) => a.at > snapshotAt && a.at < backupEnded).length
  t.comment(`${before.length} pushes acknowledged before the snapshot, ${whileCopying} while the blobs were copied, ${acks.length} in all; the backup took ${backupEnded - backupStarted} ms for ${manifest.blobs} blobs`)
  t.ok(acks.some((a) => a.at > snapshotAt), 'pushes went on after it')
  t.equal(readFileSync(join(dest, 'config.yml'), 'utf8'), readFileSync(config, 'utf8'))

  const restoredRoot = join(dir, 'restored')
  const restoredConfig = writeConfig(dir, restoredRoot)
  const restore = await runCliHere(['restore', dest, restoredConfig])
  t.equal(restore.code, 0, restore.stderr)
  t.match(restore.stdout, `Restored ${manifest.blobs} blobs`)
  t.match(restore.stdout, `Restored the users to ${join(restoredRoot, 'htpasswd')}\n`)
  t.match(restore.stdout, /fsck: checked \d+ blobs \([^)]+\): no problems\n$/)
  const fsck = await runCliHere(['fsck', restoredConfig])
  t.equal(fsck.code, 0, fsck.stdout)

  const restored = await startServer(t, [restoredConfig], {}, dir)
  const pull = async (tag: string) => {
    const [name, version] = tag.split(':')
    const res = await fetch(`${restored.url}/v1/_packs/${name}/${version}/archive`, { headers: { authorization: auth } })
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) }
  }
  const pushedBytes = new Map(acks.map((a) => [a.digest, a.bytes]))
  for (const tag of new Set(before.map((a) => a.tag))) {
    const forTag = acks.filter((a) => a.tag === tag)
    const lastBefore = forTag.filter((a) => a.at < snapshotAt).pop() as Ack
    // A push acknowledged after the snapshot may have committed just before it.
    const allowed = forTag.slice(forTag.indexOf(lastBefore)).map((a) => a.digest)
    const got = await pull(tag)
    t.equal(got.status, 200, tag)
    const digest = sha256Digest(got.bytes)
    t.ok(allowed.includes(digest), `${tag}: the version acknowledged before the snapshot (or a later one)`)
    t.ok(got.bytes.equals(pushedBytes.get(digest) as Buffer), `${tag}: byte for byte what was pushed`)
  }
  const listing = (await (await fetch(`${restored.url}/v1/_packs?n=1000`, { headers: { authorization: auth } })).json()) as { packs: Array<{ name: string; tags: Array<{ tag: string; digest: string }> }> }
  for (const pack of listing.packs) {
    for (const tag of pack.tags) t.ok(pushedBytes.has(tag.digest), `${pack.name}:${tag.tag} is a pack that was pushed`)
  }
  restored.child.kill('SIGTERM')
  await restored.exited
})

t.test('garbage collection during the copy cannot take a blob the snapshot needs', async (t) => {
  const app = await testApp(t)
  const { db, store, staging, config } = app.registry
  await pushPack(app, { name: 'doomed', version: '1.0.0' })
  const doomed = (await get(app, '/v1/_packs/doomed/1.0.0')).json() as { digest: string }
  const dest = join(tempDir(t), 'backup')
  const report = await backupRegistry({ db, store, root: config.storage.rootdirectory, htpasswd: null, configFile: undefined }, dest, {
    onSnapshot: async () => {
      // After the snapshot, the version goes and the collector runs with no grace at all.
      t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/doomed/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)
      await collectGarbage(db, store, staging, { actor: 'test', dryRun: false, graceMs: 0, now: FAR_FUTURE() })
      t.ok(await store.stat(doomed.digest), 'leased by the backup: kept')
    },
  })
  t.same(report.problems, [])
  t.ok(existsSync(join(dest, 'blobs', 'sha256', doomed.digest.slice(7, 9), doomed.digest.slice(7))), 'in the backup')
  t.same(readdirSync(dest).sort(), ['backup.json', 'blobs', 'registry.db'], 'no upload area, no space reserve, nothing left over')
  await collectGarbage(db, store, staging, { actor: 'test', dryRun: false, graceMs: 0, now: FAR_FUTURE() })
  t.equal(await store.stat(doomed.digest), null, 'collected once the backup let go')
})

t.test('a lease renewed while a long copy runs is never taken for a crashed request\'s', async (t) => {
  const app = await testApp(t)
  const { db, store, staging } = app.registry
  const intake = new BlobIntake(store, new BlobMeta(db))
  const lease = intake.newLease()
  const blob = await putBlob(store, Readable.from([Buffer.from('held for hours')]))
  await lease.take([blob.digest], Date.now() - 2 * 3600_000)
  await lease.renew()
  await collectGarbage(db, store, staging, { actor: 'test', dryRun: false, graceMs: 0, now: FAR_FUTURE() })
  t.ok(await store.stat(blob.digest), 'kept: the renewed lease counts')
  await lease.release()
  await collectGarbage(db, store, staging, { actor: 'test', dryRun: false, graceMs: 0, now: FAR_FUTURE() })
  t.equal(await store.stat(blob.digest), null)
})

t.test('backup and restore refuse what they must, changing nothing', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'live')
  const config = writeConfig(dir, root)
  const full = join(dir, 'full')
  mkdirSync(full)
  writeFileSync(join(full, 'something'), 'x')
  const intoFull = await runCliHere(['backup', full, config])
  t.equal(intoFull.code, 1)
  t.match(intoFull.stderr, `Error: the backup folder ${full} is not empty; give a new or empty folder\n`)

  const app = await testApp(t, { storage: { filesystem: { rootdirectory: root } } })
  await pushPack(app, { name: 'kept', version: '2.0.0' })
  await app.close()
  const dest = join(dir, 'backup')
  t.equal((await runCliHere(['backup', dest, config])).code, 0)

  const notEmpty = await runCliHere(['restore', dest, config])
  t.equal(notEmpty.code, 1)
  t.match(notEmpty.stderr, new RegExp(`^Error: ${root} is not empty \\(it holds .*registry\\.db.*\\); restore only into an empty root\\n$`))

  const unfinished = join(dir, 'unfinished')
  mkdirSync(unfinished)
  const target = writeConfig(dir, join(dir, 'target'))
  const notBackup = await runCliHere(['restore', unfinished, target])
  t.equal(notBackup.code, 1)
  t.match(notBackup.stderr, `Error: ${unfinished} is not a finished Packyard backup (it has no backup.json)\n`)

  const held = await lockRoot(join(dir, 'target'), { purpose: 'serve on :5000' })
  const busy = await runCliHere(['restore', dest, target])
  t.equal(busy.code, 1)
  t.match(busy.stderr, /^Error: another Packyard process is using the storage root .*target: serve on :5000/)
  await held.release()
  t.same(readdirSync(join(dir, 'target')), [], 'nothing restored')

  const inMemory = await runCliHere(['restore', dest], { env: { REGISTRY_STORAGE: 'inmemory' } })
  t.equal(inMemory.code, 1)
  t.match(inMemory.stderr, /keeps the registry in memory/)

  const ok = await runCliHere(['restore', dest, target])
  t.equal(ok.code, 0, ok.stderr)
  t.notOk(existsSync(join(dir, 'target', 'packyard.lock')), 'restore let go of the lock')
  const restoredApp = await testApp(t, { storage: { filesystem: { rootdirectory: join(dir, 'target') } } })
  t.equal((await get(restoredApp, '/v1/_packs/kept/2.0.0')).statusCode, 200)
  t.same(loadConfig({ file: target, env: {} }).auth?.htpasswdPath, join(dir, 'target', 'htpasswd'))
})

t.test('on S3 storage: out of one bucket prefix, back into another, through the store interface', async (t) => {
  const s3 = await startS3Server(t)
  const dir = tempDir(t)
  const live = await testApp(t, s3ConfigDoc(s3.endpoint, join(dir, 'live'), 'live'))
  const pushed = await pushPack(live, { name: 'cloudy', version: '3.1.0' }, { 'charts/data.bin': randomBytes(300 * 1024) })
  const original = (await get(live, '/v1/_packs/cloudy/3.1.0/archive')).rawPayload

  const dest = join(dir, 'backup')
  const backup = await runCliHere(['backup', dest], { env: s3Env(s3.endpoint, join(dir, 'live'), 'live') })
  t.equal(backup.code, 0, backup.stderr)
  t.match(backup.stdout, /Copied [1-9]\d* blobs/)
  const restore = await runCliHere(['restore', dest], { env: s3Env(s3.endpoint, join(dir, 'restored'), 'restored') })
  t.equal(restore.code, 0, restore.stderr)
  t.match(restore.stdout, /fsck: checked [1-9]\d* blobs .*: no problems\n$/)
  const again = await runCliHere(['restore', dest], { env: s3Env(s3.endpoint, join(dir, 'elsewhere'), 'restored') })
  t.equal(again.code, 1, 'a prefix that holds blobs is not empty')
  t.match(again.stderr, /the target storage already holds blobs/)

  const restored = await testApp(t, s3ConfigDoc(s3.endpoint, join(dir, 'restored'), 'restored'))
  const pulled = await get(restored, '/v1/_packs/cloudy/3.1.0/archive')
  t.equal(pulled.statusCode, 200)
  t.ok(pulled.rawPayload.equals(original), 'byte for byte')
  t.equal(pulled.headers['docker-content-digest'], pushed.digest)
})

/** A backup of a registry with two packs, made by the CLI; cases copy it and damage the copy. */
async function pristineBackup(t: Test): Promise<{ dir: string; backup: string }> {
  const dir = tempDir(t)
  const root = join(dir, 'live')
  const app = await testApp(t, { storage: { filesystem: { rootdirectory: root } } })
  await pushPack(app, { name: 'first', version: '1.0.0' }, { 'charts/data.bin': randomBytes(40 * 1024) })
  await pushPack(app, { name: 'second', version: '2.0.0' })
  await app.close()
  const backup = join(dir, 'backup')
  const made = await runCliHere(['backup', backup, writeConfig(dir, root)])
  if (made.code !== 0) throw new Error(made.stderr)
  return { dir, backup }
}

function blobFiles(backup: string): string[] {
  const blobs = join(backup, 'blobs', 'sha256')
  return readdirSync(blobs).flatMap((sub) => readdirSync(join(blobs, sub)).map((hex) => join(blobs, sub, hex)))
}

function editManifest(backup: string, edit: (m: Record<string, unknown> & { database: Record<string, unknown> }) => void): void {
  const file = join(backup, 'backup.json')
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { database: Record<string, unknown> }
  edit(manifest)
  writeFileSync(file, JSON.stringify(manifest))
}

t.test('backup.json records the snapshot: size, sha256, schema version, the blobs it refers to', async (t) => {
  const { backup } = await pristineBackup(t)
  const manifest = JSON.parse(readFileSync(join(backup, 'backup.json'), 'utf8')) as { format: number; schemaVersion: number; blobs: number; database: Record<string, unknown> }
  const db = readFileSync(join(backup, 'registry.db'))
  t.equal(manifest.format, 2)
  t.same(manifest.database, { file: 'registry.db', size: db.length, digest: sha256Digest(db), references: manifest.blobs })
  t.equal(manifest.schemaVersion, readMigrations('sqlite').length)
  t.equal(blobFiles(backup).length, manifest.blobs)
})

t.test('a damaged backup is refused before anything is written, naming what is wrong', async (t) => {
  const { dir, backup } = await pristineBackup(t)
  const known = readMigrations('sqlite').length
  let n = 0
  const cases: Array<[string, (copy: string) => void, RegExp]> = [
    ['an emptied registry.db', (c) => writeFileSync(join(c, 'registry.db'), ''), /registry\.db is 0 bytes, but backup\.json recorded \d+; registry\.db is of schema version 0, but backup\.json recorded \d+ \(it holds no registry/],
    ['a truncated registry.db', (c) => truncateSync(join(c, 'registry.db'), Math.floor(statSync(join(c, 'registry.db')).size / 2)), /registry\.db is \d+ bytes, but backup\.json recorded \d+; registry\.db (is not a readable SQLite database|SQLite's integrity check fails)/],
    ['a registry.db of another schema, recorded as is', (c) => {
      const file = join(c, 'registry.db')
      const db = new Database(file)
      db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(known)
      db.close()
      const bytes = readFileSync(file)
      editManifest(c, (m) => Object.assign(m.database, { size: bytes.length, digest: sha256Digest(bytes) }))
    }, new RegExp(`registry\\.db is of schema version ${known - 1}, but backup\\.json recorded ${known}`)],
    ['a registry.db whose bytes changed, its size not', (c) => {
      const file = join(c, 'registry.db')
      const bytes = readFileSync(file)
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff
      writeFileSync(file, bytes)
    }, /registry\.db has sha256 [0-9a-f]{64}, but backup\.json recorded [0-9a-f]{64} \(its bytes changed\)/],
    ['a backup.json from a newer schema', (c) => editManifest(c, (m) => (m.schemaVersion = known + 1)), new RegExp(`holds a database of schema version ${known + 1}, newer than this Packyard knows \\(${known}\\)`)],
    ['a backup.json counting other blobs', (c) => editManifest(c, (m) => (m.database.references = 99)), /registry\.db refers to \d+ blobs, but backup\.json recorded 99/],
    ['a backup.json that is not JSON', (c) => writeFileSync(join(c, 'backup.json'), '{"format": 2,'), /backup\.json is not valid JSON .*; the backup is damaged/],
    ['a blob missing', (c) => rmSync(blobFiles(c)[0] as string), /1 of the \d+ blobs registry\.db refers to are not in the backup \(sha256:[0-9a-f]{64}\)/],
    ['no registry.db', (c) => rmSync(join(c, 'registry.db')), /is damaged: registry\.db is missing; nothing was restored/],
  ]
  for (const [what, damage, message] of cases) {
    const copy = join(dir, `damaged-${n}`)
    const target = join(dir, `target-${n++}`)
    cpSync(backup, copy, { recursive: true })
    damage(copy)
    const restore = await runCliHere(['restore', copy, writeConfig(dir, target)])
    t.equal(restore.code, 1, what)
    t.match(restore.stderr, message, what)
    t.equal(restore.stdout, '', `${what}: nothing reported as restored`)
    t.notOk(existsSync(target), `${what}: nothing written`)
  }
  const ok = await runCliHere(['restore', backup, writeConfig(dir, join(dir, 'whole'))])
  t.equal(ok.code, 0, ok.stderr)
})

t.test('a blob with a flipped byte is named, and what was copied is removed again', async (t) => {
  const { dir, backup } = await pristineBackup(t)
  const victim = blobFiles(backup).sort((a, b) => statSync(b).size - statSync(a).size)[0] as string
  const bytes = readFileSync(victim)
  bytes[100] = (bytes[100] as number) ^ 0x01
  writeFileSync(victim, bytes)
  const target = join(dir, 'target')
  const restore = await runCliHere(['restore', backup, writeConfig(dir, target)])
  t.equal(restore.code, 1)
  t.match(restore.stderr, new RegExp(`^Error: 1 blobs in ${backup} are damaged, so nothing was restored \\(the \\d+ blobs copied meanwhile were removed again\\): sha256:${victim.split('/').pop()}: `))
  t.equal(restore.stdout, '')
  t.same(readdirSync(target), [], 'the target is empty again')
  bytes[100] = (bytes[100] as number) ^ 0x01
  writeFileSync(victim, bytes)
  const again = await runCliHere(['restore', backup, writeConfig(dir, target)])
  t.equal(again.code, 0, `the repaired backup restores into the same root: ${again.stderr}`)
})

t.test('a backup made before format 2 (no snapshot checksum) still restores, checked for what it can be', async (t) => {
  const { dir, backup } = await pristineBackup(t)
  editManifest(backup, (m) => {
    m.format = 1
    delete (m as Record<string, unknown>).database
  })
  const ok = await runCliHere(['restore', backup, writeConfig(dir, join(dir, 'old'))])
  t.equal(ok.code, 0, ok.stderr)
  writeFileSync(join(backup, 'registry.db'), '')
  const emptied = await runCliHere(['restore', backup, writeConfig(dir, join(dir, 'old-emptied'))])
  t.equal(emptied.code, 1)
  t.match(emptied.stderr, /registry\.db is of schema version 0, but backup\.json recorded \d+/)
})

t.test('backup refuses a folder inside the storage root it copies', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'live')
  const config = writeConfig(dir, root)
  const app = await testApp(t, { storage: { filesystem: { rootdirectory: root } } })
  await app.close()
  for (const dest of [join(root, 'backup'), root, join(root, 'blobs', 'new', 'deeper')]) {
    const inside = await runCliHere(['backup', dest, config])
    t.equal(inside.code, 1, dest)
    t.match(inside.stderr, `Error: the backup folder ${dest} is inside the storage root ${root}; a backup must live apart from what it saves`)
  }
  t.notOk(existsSync(join(root, 'backup')), 'nothing made')
  symlinkSync(root, join(dir, 'link'))
  const viaLink = await runCliHere(['backup', join(dir, 'link', 'backup'), config])
  t.equal(viaLink.code, 1, 'through a symbolic link too')
  t.equal((await runCliHere(['backup', join(dir, 'live-backup'), config])).code, 0, 'a sibling folder is fine')
})
