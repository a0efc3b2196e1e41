// The operator commands on a registry whose metadata is in PostgreSQL (the CLI in this process,
// beside a real app): backup writes a logical export of one snapshot with the blobs it needs,
// restore loads it into a fresh root and an empty database and the app started on it answers
// the same packs, tags, parent tags and archive bytes; a non-empty database, or a SQLite
// registry, is refused. garbage-collect, fsck, user add and events walk a push, a delete, a
// collection and a user change.

import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ADMIN, listeningApp, runCliHere, tempDir, testApp, USERS } from '../helpers.js'
import { get, pushPack } from '../pack-fixtures.js'
import { freshDatabase } from '../postgres.js'

function registryDoc(root: string, url: string) {
  return { storage: { filesystem: { rootdirectory: root } }, database: { url, pool: 4 } }
}

/** The config file the commands read: the same root and database as the app's. */
function writeConfig(dir: string, name: string, root: string, url: string | null): string {
  const file = join(dir, `${name}.yml`)
  writeFileSync(file, `log:\n  level: silent\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n${url === null ? '' : `database:\n  url: ${url}\n`}`)
  return file
}

/** What a client sees of the registry: each pack's listing, its tags, and every tag's archive bytes. */
async function registryView(app: FastifyInstance, packs: string[]) {
  const view: Record<string, unknown> = {}
  for (const name of packs) {
    view[name] = (await get(app, `/v1/_packs/${name}`)).json()
    const tags = (await get(app, `/v1/_packs/${name}/_tags`)).json() as { tags: Array<{ tag: string }> }
    view[`${name} tags`] = tags
    for (const { tag } of tags.tags) {
      const res = await get(app, `/v1/_packs/${name}/${tag}/archive`)
      if (res.statusCode !== 200) throw new Error(`${name}:${tag} archive answered ${res.statusCode}`)
      view[`${name}:${tag}`] = res.rawPayload.toString('base64')
    }
  }
  return view
}

t.test('PostgreSQL: backup, restore into a fresh root and an empty database, the same registry answers', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'live')
  const url = await freshDatabase(t)
  const app = await testApp(t, registryDoc(root, url))
  await pushPack(app, { name: 'alpha', version: '1.0.0' })
  await pushPack(app, { name: 'alpha', version: '1.1.0' }, { 'values.yaml': 'replicas: 2\n' })
  await pushPack(app, { name: 'beta', version: '2.0.0' }, { 'README.md': '# beta\n' })
  t.equal((await app.inject({ method: 'PUT', url: '/v1/_packs/alpha/_tags/stable', headers: { authorization: ADMIN }, payload: { ref: '1.0.0' } })).statusCode, 201)
  const before = await registryView(app, ['alpha', 'beta'])
  t.match(JSON.stringify(before['alpha tags']), /"tag":"1\.x","group":null,"label":"1\.x","kind":"parent"/, 'parent tags are part of what is compared')
  t.ok('alpha:stable' in before && 'alpha:1.x' in before, 'archives are fetched through every tag')

  const config = writeConfig(dir, 'live', root, url)
  const dest = join(dir, 'backup')
  const backup = await runCliHere(['backup', dest, config])
  t.equal(backup.code, 0, backup.stderr)
  t.match(backup.stdout, /^Snapshot of the metadata taken at \S+; copying \d+ blobs\n/)
  t.notOk(existsSync(join(dest, 'registry.db')), 'no SQLite file')
  const manifest = JSON.parse(readFileSync(join(dest, 'backup.json'), 'utf8')) as {
    format: number
    blobs: number
    metadata: { engine: string; file: string; references: number; rows: Record<string, number>; blobList: string }
  }
  t.equal(manifest.format, 3)
  t.match(manifest.metadata, { engine: 'postgres', file: 'metadata.jsonl', blobList: 'metadata-blobs.txt' })
  t.equal(manifest.metadata.rows.upload_sessions, 0, 'upload sessions stay with the live registry')
  t.equal(manifest.metadata.rows.blob_leases, 0, 'so do leases')
  t.equal(manifest.metadata.rows.repositories, 2)
  const listed = readFileSync(join(dest, 'metadata-blobs.txt'), 'utf8').trim().split('\n')
  t.equal(listed.length, manifest.metadata.references)
  t.equal(manifest.blobs, listed.length, 'every blob the export needs was copied')
  for (const digest of listed) t.ok(existsSync(join(dest, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7))), `${digest} is in the backup`)

  // Into a fresh root and a fresh database.
  const restoredRoot = join(dir, 'restored')
  const restoredUrl = await freshDatabase(t)
  const restoredConfig = writeConfig(dir, 'restored', restoredRoot, restoredUrl)
  const restore = await runCliHere(['restore', dest, restoredConfig])
  t.equal(restore.code, 0, restore.stderr)
  t.match(restore.stdout, `Restored ${manifest.blobs} blobs`)
  t.match(restore.stdout, /fsck: checked \d+ blobs \([^)]+\): no problems\n$/)
  const restored = await testApp(t, registryDoc(restoredRoot, restoredUrl))
  t.same(await registryView(restored, ['alpha', 'beta']), before, 'packs, tags, parent tags and archives are identical')
  // The identities go on past the restored rows: a new push works.
  await pushPack(restored, { name: 'alpha', version: '1.2.0' })

  // A database that already holds a registry is refused, and the empty root stays empty.
  const occupiedRoot = join(dir, 'occupied')
  const refused = await runCliHere(['restore', dest, writeConfig(dir, 'occupied', occupiedRoot, url)])
  t.not(refused.code, 0)
  t.match(refused.stderr, /is not empty: table repositories has rows; restore only into an empty database/)
  t.same(existsSync(occupiedRoot) ? readdirSync(occupiedRoot).filter((e) => e !== 'packyard.lock') : [], [], 'nothing was copied')

  // Into a SQLite registry: refused before anything is written, naming the way to PostgreSQL.
  const sqliteRoot = join(dir, 'sqlite')
  const other = await runCliHere(['restore', dest, writeConfig(dir, 'sqlite', sqliteRoot, null)])
  t.not(other.code, 0)
  t.match(other.stderr, /holds PostgreSQL metadata \(metadata\.jsonl\), but this registry keeps its metadata in SQLite/)
  t.match(other.stderr, /migrate-metadata/)
  t.notOk(existsSync(sqliteRoot))
})

t.test('PostgreSQL: garbage-collect, fsck, user add and events on a push, a delete, a collection and a new user', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'live')
  const url = await freshDatabase(t)
  const { app, server } = await listeningApp(t, registryDoc(root, url))
  const config = writeConfig(dir, 'live', root, url)
  const first = await pushPack(app, { name: 'alpha', version: '1.0.0' }, { 'README.md': 'first\n' })
  await pushPack(app, { name: 'alpha', version: '1.1.0' }, { 'README.md': 'second\n' })
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/alpha/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)

  const gc = await runCliHere(['garbage-collect', config, '--grace', '0s', '--force'])
  t.equal(gc.code, 0, gc.stderr)
  t.match(gc.stdout, `${first.digest}  `, 'the deleted version\'s archive is removed')
  t.match(gc.stdout, /\nremoved: [1-9]\d* blobs? /)
  t.equal(await app.registry.store.stat(first.digest), null)
  t.equal((await get(app, '/v1/_packs/alpha/1.1.0/archive')).statusCode, 200, 'what is in use stays')

  const fsck = await runCliHere(['fsck', config])
  t.equal(fsck.code, 0, fsck.stdout)
  t.match(fsck.stdout, /: no problems\n$/)

  // A user change is recorded in the PostgreSQL audit trail (the config's own htpasswd: <root>/htpasswd).
  const user = await runCliHere(['user', 'add', 'ci-bot', '--password-stdin', '--config', config], { input: 'ci-secret' })
  t.equal(user.code, 0, user.stderr)
  t.notMatch(user.stdout, /Not recorded/)

  const home = join(dir, 'home')
  mkdirSync(home)
  const env = { HOME: home }
  t.equal((await runCliHere(['registry', 'login', server, '--insecure', '--username', 'admin', '--password', USERS.admin], { env })).code, 0)
  const events = await runCliHere(['events', '--output', 'json'], { env })
  t.equal(events.code, 0, events.stderr)
  const actions = (JSON.parse(events.stdout) as { events: Array<{ action: string; repository: string | null; tag: string | null }> }).events.map((e) => [e.action, e.repository, e.tag])
  t.match(actions, [['create', 'alpha', '1.0.0'], ['create', 'alpha', '1.1.0'], ['delete', 'alpha', '1.0.0'], ['gc', null, null], ['user.add', null, null]])
})
