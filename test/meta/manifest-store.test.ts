// The one owner of repositories, manifests, their references and tags (src/meta/manifests.ts),
// on both engines: the reference check's problems, a manifest stored twice, the two meanings of
// deleting a manifest's tags, the tag write order, and an empty repository's removal.

import t from 'tap'
import { join } from 'node:path'
import { BlobMeta } from '../../src/meta/blobs.js'
import { type Database, writeTransaction } from '../../src/meta/database.js'
import { ManifestStore, type NewManifest } from '../../src/meta/manifests.js'
import { PostgresDatabase } from '../../src/meta/postgres.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { tempDir } from '../helpers.js'
import { freshDatabase } from '../postgres.js'
import type { Teardown } from '../system.js'

const engines: Array<{ name: string; open(t: Teardown): Promise<Database> }> = [
  {
    name: 'sqlite',
    async open(t) {
      const db = await SqliteDatabase.open(join(tempDir(t), 'registry.db'))
      t.teardown(() => db.close())
      return db
    },
  },
  {
    name: 'postgres',
    async open(t) {
      const db = await PostgresDatabase.open({ connectionString: await freshDatabase(t), max: 4, connectionTimeoutMillis: 5000 }, 'test')
      t.teardown(() => db.close())
      return db
    },
  },
]

const digest = (c: string) => `sha256:${c.repeat(64)}`

function manifest(c: string, refs: Partial<Pick<NewManifest, 'blobs' | 'manifests'>> = {}): NewManifest {
  return {
    digest: digest(c),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: null,
    content: Buffer.from(`{"manifest":"${c}"}`),
    subjectDigest: null,
    blobs: refs.blobs ?? [],
    manifests: refs.manifests ?? [],
  }
}

const blob = (c: string, size: number) => ({ mediaType: 'application/octet-stream', digest: digest(c), size })

for (const engine of engines) {
  t.test(engine.name, async (t) => {
    t.test('the reference check lists every missing or mis-sized blob and child manifest, in order', async (t) => {
      const db = await engine.open(t)
      const store = new ManifestStore(db)
      const refs = { blobs: [blob('a', 3), blob('b', 5), blob('c', 7)], manifests: [{ mediaType: 'm', digest: digest('d'), size: 0 }] }
      t.same(
        (await store.referenceProblems(null, refs)).map((p) => [p.kind, p.index, p.actualSize]),
        [['blob', 0, null], ['blob', 1, null], ['blob', 2, null], ['manifest', 0, null]],
        'a repository not created yet satisfies nothing',
      )
      await writeTransaction(db, async () => {
        const repo = await store.ensureRepository({ kind: 'oci', name: 'lib/app' }, 1)
        const blobs = new BlobMeta(db)
        await blobs.recordInRepository(repo, { digest: digest('a'), size: 3 }, 1)
        await blobs.recordInRepository(repo, { digest: digest('b'), size: 6 }, 1)
        const child = manifest('d')
        await store.insertManifest(repo, child, 1)
        refs.manifests[0] = { mediaType: 'm', digest: child.digest, size: child.content.length + 1 }
        t.same(await store.referenceProblems(repo, refs), [
          { kind: 'blob', index: 1, digest: digest('b'), declaredSize: 5, actualSize: 6 },
          { kind: 'blob', index: 2, digest: digest('c'), declaredSize: 7, actualSize: null },
          { kind: 'manifest', index: 0, digest: child.digest, declaredSize: child.content.length + 1, actualSize: child.content.length },
        ])
        t.same(await store.referenceProblems(repo, { blobs: [blob('a', 3)], manifests: [{ digest: child.digest, size: child.content.length }] }), [], 'all there')
      })
    })

    t.test('a repository is created once; a manifest stored twice keeps its row and references', async (t) => {
      const db = await engine.open(t)
      const store = new ManifestStore(db)
      await writeTransaction(db, async () => {
        const repo = await store.ensureRepository({ kind: 'pack', name: 'hello' }, 1)
        t.equal(await store.ensureRepository({ kind: 'pack', name: 'hello' }, 2), repo)
        t.equal((await store.repository({ kind: 'pack', name: 'hello' }))?.updated_at, 2, 'touched by the second')
        t.not(await store.ensureRepository({ kind: 'oci', name: 'hello' }, 2), repo, 'another kind, another repository')
        const m = manifest('e', { blobs: [blob('a', 3)], manifests: [{ mediaType: 'm', digest: digest('f'), size: 1 }] })
        const first = await store.insertManifest(repo, m, 1)
        t.same(await store.insertManifest(repo, m, 2), { id: first.id, created: false })
        t.ok(first.created)
        const refs = await db.prepare<{ digest: string; kind: string }>('SELECT digest, kind FROM manifest_references WHERE manifest_id = ? ORDER BY kind').all(first.id)
        t.same(refs, [{ digest: digest('a'), kind: 'blob' }, { digest: digest('f'), kind: 'manifest' }])
        t.equal((await store.manifestByDigest(repo, m.digest))?.content.toString(), m.content.toString())
        t.notOk(await store.deleteRepositoryIfEmpty(repo), 'it holds a manifest')
        await store.deleteManifest(first.id)
        t.ok(await store.deleteRepositoryIfEmpty(repo))
        t.equal(await store.repository({ kind: 'pack', name: 'hello' }), null)
      })
    })

    t.test('deleting user tags keeps parent tags; deleting all tags does not', async (t) => {
      const db = await engine.open(t)
      const store = new ManifestStore(db)
      await writeTransaction(db, async () => {
        const repo = await store.ensureRepository({ kind: 'pack', name: 'hello' }, 1)
        const { id } = await store.insertManifest(repo, manifest('a'), 1)
        await store.insertTag(repo, { name: '1.0.0', group: null, label: '1.0.0', kind: 'version', line: '1', target: null }, id, 1)
        await store.insertTag(repo, { name: 'stable', group: null, label: 'stable', kind: 'alias', line: null, target: null }, id, 1)
        await store.insertTag(repo, { name: '1.x', group: null, label: '1.x', kind: 'parent', line: '1', target: '1.0.0' }, id, 1)
        const names = async () => (await db.prepare<{ name: string }>('SELECT name FROM tags WHERE manifest_id = ? ORDER BY name').all(id)).map((r) => r.name)
        await store.deleteUserTagsOf(id)
        t.same(await names(), ['1.x'])
        await store.upsertTag(repo, 'latest', id, 2)
        t.same(await store.deleteAllTagsOf(id), ['1.x', 'latest'])
        t.same(await names(), [])
      })
    })

    t.test('every tag write takes the next place in the write order', async (t) => {
      const db = await engine.open(t)
      const store = new ManifestStore(db)
      await writeTransaction(db, async () => {
        const repo = await store.ensureRepository({ kind: 'oci', name: 'lib/app' }, 1)
        const a = (await store.insertManifest(repo, manifest('a'), 1)).id
        const b = (await store.insertManifest(repo, manifest('b'), 1)).id
        const seq = async (name: string) => (await db.prepare<{ seq: number }>('SELECT seq FROM tags WHERE repository_id = ? AND name = ?').get(repo, name))?.seq as number
        await store.upsertTag(repo, 'one', a, 1)
        await store.insertTag(repo, { name: 'two', group: null, label: 'two', kind: 'alias', line: null, target: null }, a, 1)
        t.ok((await seq('two')) > (await seq('one')))
        await store.upsertTag(repo, 'one', b, 2)
        t.ok((await seq('one')) > (await seq('two')), 'moved by upsert')
        t.equal((await store.tag(repo, 'one'))?.digest, digest('b'))
        const two = (await store.tag(repo, 'two'))?.id as number
        await store.moveTag(two, b, 3)
        t.ok((await seq('two')) > (await seq('one')), 'moved by id')
        await store.deleteTag(two)
        t.equal(await store.tag(repo, 'two'), null)
      })
    })
  })
}
