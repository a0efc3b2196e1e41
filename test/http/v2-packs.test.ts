// Packs as /v2 sees them: `<oci.namespace>/<pack>` reads from the pack repository (kind
// 'pack') in the shared tables; parent tags resolve but are listed only when configured; the
// catalog shows packs under the namespace; blob uploads there link to the pack repository.
// Packs are published through /v1, as users do.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, testApp } from '../helpers.js'
import { archive, packFiles, push } from '../pack-fixtures.js'
import { digestOf, errorCode, makeImage, pushBlob, pushImage } from './v2-helpers.js'

const auth = { authorization: ADMIN }

/** A pack published through /v1 (the real publisher), with an alias tag `stable`. */
async function recordPack(app: FastifyInstance, name: string) {
  const tgz = await archive(packFiles({ name }))
  const pushed = await push(app, tgz)
  if (pushed.statusCode !== 201) throw new Error(pushed.body)
  await app.inject({ method: 'PUT', url: `/v1/_packs/${name}/_tags/stable`, payload: { ref: '1.0.0' }, headers: auth })
  const manifest = (await app.inject({ url: `/v1/${name}/manifests/1.0.0`, headers: auth })).rawPayload
  return { manifest, archive: tgz, digest: pushed.json().manifestDigest as string }
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
  await pushImage(t, app, 'library/nginx', makeImage('nginx'))
  await pushImage(t, app, 'team/tool', makeImage('tool'))
  await pushBlob(t, app, 'packs/uploading', 'an archive whose manifest has not come yet')
  t.same((await app.inject({ url: '/v2/_catalog', headers: auth })).json().repositories, ['library/nginx', 'packs/apache', 'packs/zoo', 'team/tool'])
  t.same((await app.inject({ url: '/v2/_catalog?n=2&last=library/nginx', headers: auth })).json().repositories, ['packs/apache', 'packs/zoo'])
})

t.test('blob uploads into the namespace link to the pack repository, created on first upload', async (t) => {
  const app = await testApp(t)
  const digest = await pushBlob(t, app, 'spectro-packs/archive/newpack', 'an archive on its way')
  const rows = await app.registry.db.prepare('SELECT r.kind, r.name, rb.digest FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id').all()
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
