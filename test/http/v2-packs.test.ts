// Packs as /v2 sees them: `<oci.namespace>/<pack>` reads from the pack repository (kind
// 'pack') in the shared tables; parent tags resolve but are listed only when configured; the
// catalog shows packs under the namespace; blob uploads there link to the pack repository.
// The pack is laid out in the tables directly, as the pack publisher records it.

import t from 'tap'
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { OCI_MANIFEST } from '../../src/oci/manifests.js'
import { ADMIN, testApp } from '../helpers.js'
import { descriptorOf, digestOf, errorCode, pushBlob } from './v2-helpers.js'

const auth = { authorization: ADMIN }

/** A pack version the way ORAS would have pushed it: empty config, one tar.gz layer. */
async function recordPack(app: FastifyInstance, name: string) {
  const { db, store } = app.registry
  const config = Buffer.from('{}')
  const archive = Buffer.from(`pretend this is ${name}-1.0.0.tar.gz`)
  for (const blob of [config, archive]) await store.put(Readable.from([blob]))
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.unknown.artifact.v1',
      config: descriptorOf('application/vnd.oci.empty.v1+json', config),
      layers: [{ ...descriptorOf('application/vnd.oci.image.layer.v1.tar', archive), annotations: { 'org.opencontainers.image.title': `${name}-1.0.0.tar.gz` } }],
    }),
  )
  const now = Date.now()
  db.transaction(() => {
    const repo = db.prepare("INSERT INTO repositories (kind, name, created_at, updated_at) VALUES ('pack', ?, ?, ?)").run(name, now, now).lastInsertRowid
    for (const blob of [config, archive]) {
      db.prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)').run(digestOf(blob), blob.length, now)
      db.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)').run(repo, digestOf(blob), now)
    }
    const manifestId = db
      .prepare('INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(repo, digestOf(manifest), OCI_MANIFEST, 'application/vnd.unknown.artifact.v1', manifest.length, manifest, now).lastInsertRowid
    const tag = db.prepare('INSERT INTO tags (repository_id, name, group_name, label, kind, manifest_id, seq, updated_at) VALUES (?, ?, NULL, ?, ?, ?, ?, ?)')
    tag.run(repo, '1.0.0', '1.0.0', 'version', manifestId, 1, now)
    tag.run(repo, 'stable', 'stable', 'alias', manifestId, 2, now)
    tag.run(repo, '1.x', '1.x', 'parent', manifestId, 3, now)
    tag.run(repo, '1.0.x', '1.0.x', 'parent', manifestId, 4, now)
  })()
  return { manifest, archive, digest: digestOf(manifest) }
}

t.test('a pack reads at <namespace>/<name> by every tag kind and by digest', async (t) => {
  const app = await testApp(t)
  const pack = await recordPack(app, 'hello-universe')
  for (const reference of ['1.0.0', 'stable', '1.x', '1.0.x', pack.digest]) {
    const res = await app.inject({ url: `/v2/spectro-packs/archive/hello-universe/manifests/${reference}`, headers: auth })
    t.equal(res.statusCode, 200, reference)
    t.same(res.rawPayload, pack.manifest)
    t.equal(res.headers['docker-content-digest'], pack.digest)
  }
  const layer = await app.inject({ url: `/v2/spectro-packs/archive/hello-universe/blobs/${digestOf(pack.archive)}`, headers: auth })
  t.same(layer.rawPayload, pack.archive)
  t.equal(errorCode(await app.inject({ url: '/v2/hello-universe/manifests/1.0.0', headers: auth })), 'NAME_UNKNOWN', 'outside the namespace it is no repository')
  t.equal(errorCode(await app.inject({ url: '/v2/spectro-packs/archive/nope/manifests/1.0.0', headers: auth })), 'NAME_UNKNOWN')
  t.equal(errorCode(await app.inject({ url: '/v2/spectro-packs/archive/a/b/manifests/1.0.0', headers: auth })), 'NAME_INVALID')
})

t.test('tags/list leaves out parent tags unless oci.listparenttags', async (t) => {
  const app = await testApp(t)
  await recordPack(app, 'hello')
  t.same((await app.inject({ url: '/v2/spectro-packs/archive/hello/tags/list', headers: auth })).json(), {
    name: 'spectro-packs/archive/hello',
    tags: ['1.0.0', 'stable'],
  })
  const listing = await testApp(t, { oci: { listparenttags: true } })
  await recordPack(listing, 'hello')
  t.same((await listing.inject({ url: '/v2/spectro-packs/archive/hello/tags/list', headers: auth })).json().tags, ['1.0.0', '1.0.x', '1.x', 'stable'])
})

t.test('the catalog lists packs under the namespace among OCI repositories', async (t) => {
  const app = await testApp(t, { oci: { namespace: 'packs' } })
  await recordPack(app, 'zoo')
  await recordPack(app, 'apache')
  await pushBlob(t, app, 'library/nginx', 'nginx layer')
  await pushBlob(t, app, 'team/tool', 'tool layer')
  t.same((await app.inject({ url: '/v2/_catalog', headers: auth })).json().repositories, ['library/nginx', 'packs/apache', 'packs/zoo', 'team/tool'])
  t.same((await app.inject({ url: '/v2/_catalog?n=2&last=library/nginx', headers: auth })).json().repositories, ['packs/apache', 'packs/zoo'])
})

t.test('blob uploads into the namespace link to the pack repository, created on first upload', async (t) => {
  const app = await testApp(t)
  const digest = await pushBlob(t, app, 'spectro-packs/archive/newpack', 'an archive on its way')
  const rows = app.registry.db.prepare('SELECT r.kind, r.name, rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id').all()
  t.same(rows, [{ kind: 'pack', name: 'newpack', digest }])
  t.equal((await app.inject({ method: 'HEAD', url: `/v2/spectro-packs/archive/newpack/blobs/${digest}`, headers: auth })).statusCode, 200)
  const badName = await app.inject({ method: 'POST', url: '/v2/spectro-packs/archive/Bad__name/blobs/uploads/', headers: auth })
  t.equal(errorCode(badName), 'NAME_INVALID')
})

t.test('blobs of packs are not deleted one by one', async (t) => {
  const app = await testApp(t)
  const pack = await recordPack(app, 'hello')
  const res = await app.inject({ method: 'DELETE', url: `/v2/spectro-packs/archive/hello/blobs/${digestOf(pack.archive)}`, headers: auth })
  t.equal(res.statusCode, 405)
  t.equal(errorCode(res), 'UNSUPPORTED')
})
