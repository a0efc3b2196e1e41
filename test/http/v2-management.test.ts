// The content-management category of the OCI distribution spec's conformance workflows:
// deleting tags, manifests and blobs, and what happens when deleting is disabled.

import t from 'tap'
import { ADMIN, testApp } from '../helpers.js'
import { digestOf, errorCode, makeImage, pushImage, putManifest } from './v2-helpers.js'

const auth = { authorization: ADMIN }

t.test('DELETE by tag removes only the tag', async (t) => {
  const app = await testApp(t)
  const image = makeImage('tagged')
  await pushImage(t, app, 'a', image, 'v1')
  await putManifest(app, 'a', 'v2', image.manifest)
  const res = await app.inject({ method: 'DELETE', url: '/v2/a/manifests/v1', headers: auth })
  t.equal(res.statusCode, 202)
  t.same((await app.inject({ url: '/v2/a/tags/list', headers: auth })).json().tags, ['v2'])
  t.equal((await app.inject({ url: `/v2/a/manifests/${image.digest}`, headers: auth })).statusCode, 200, 'the manifest stays')
  const again = await app.inject({ method: 'DELETE', url: '/v2/a/manifests/v1', headers: auth })
  t.equal(again.statusCode, 404)
  t.equal(errorCode(again), 'MANIFEST_UNKNOWN')
})

t.test('DELETE by digest removes the manifest and every tag on it', async (t) => {
  const app = await testApp(t)
  const image = makeImage('doomed')
  await pushImage(t, app, 'a', image, 'v1')
  await putManifest(app, 'a', 'latest', image.manifest)
  const keep = makeImage('kept')
  await pushImage(t, app, 'a', keep, 'keep')
  const res = await app.inject({ method: 'DELETE', url: `/v2/a/manifests/${image.digest}`, headers: auth })
  t.equal(res.statusCode, 202)
  t.equal(errorCode(await app.inject({ url: `/v2/a/manifests/${image.digest}`, headers: auth })), 'MANIFEST_UNKNOWN')
  t.equal(errorCode(await app.inject({ url: '/v2/a/manifests/v1', headers: auth })), 'MANIFEST_UNKNOWN')
  t.same((await app.inject({ url: '/v2/a/tags/list', headers: auth })).json().tags, ['keep'])
  t.equal(errorCode(await app.inject({ method: 'DELETE', url: `/v2/a/manifests/${image.digest}`, headers: auth })), 'MANIFEST_UNKNOWN')
  t.equal(errorCode(await app.inject({ method: 'DELETE', url: `/v2/nowhere/manifests/${image.digest}`, headers: auth })), 'NAME_UNKNOWN')

  const actions = await app.registry.db.prepare("SELECT action, tag, old_digest, message FROM events WHERE action = 'delete' ORDER BY id").all()
  t.same(actions, [
    { action: 'delete', tag: 'latest', old_digest: image.digest, message: 'latest,v1' },
  ])
})

t.test('DELETE a blob unlinks it from the repository only', async (t) => {
  const app = await testApp(t)
  const image = makeImage('blobs')
  await pushImage(t, app, 'a', image, 'v1')
  await pushImage(t, app, 'b', image, 'v1')
  const layer = digestOf(image.layers[0] as Buffer)
  await app.inject({ method: 'DELETE', url: `/v2/a/manifests/${image.digest}`, headers: auth })
  const res = await app.inject({ method: 'DELETE', url: `/v2/a/blobs/${layer}`, headers: auth })
  t.equal(res.statusCode, 202)
  t.equal((await app.inject({ method: 'HEAD', url: `/v2/a/blobs/${layer}`, headers: auth })).statusCode, 404)
  t.equal((await app.inject({ method: 'HEAD', url: `/v2/b/blobs/${layer}`, headers: auth })).statusCode, 200, 'other repositories keep it')
  const again = await app.inject({ method: 'DELETE', url: `/v2/a/blobs/${layer}`, headers: auth })
  t.equal(again.statusCode, 404)
  t.equal(errorCode(again), 'BLOB_UNKNOWN')
  t.equal(errorCode(await app.inject({ method: 'DELETE', url: '/v2/a/blobs/sha256:bad', headers: auth })), 'DIGEST_INVALID')
  // A manifest naming the unlinked blob can no longer be pushed to that repository.
  t.equal(errorCode(await putManifest(app, 'a', 'v1', image.manifest)), 'MANIFEST_BLOB_UNKNOWN')
})

t.test('with storage.delete.enabled false every delete is 405 UNSUPPORTED', async (t) => {
  const app = await testApp(t, { storage: { delete: { enabled: false } } })
  const image = makeImage('kept')
  await pushImage(t, app, 'a', image, 'v1')
  for (const url of ['/v2/a/manifests/v1', `/v2/a/manifests/${image.digest}`, `/v2/a/blobs/${digestOf(image.config)}`]) {
    const res = await app.inject({ method: 'DELETE', url, headers: auth })
    t.equal(res.statusCode, 405, url)
    t.equal(errorCode(res), 'UNSUPPORTED')
  }
  t.equal((await app.inject({ url: '/v2/a/manifests/v1', headers: auth })).statusCode, 200, 'nothing was deleted')
  const start = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })
  t.equal((await app.inject({ method: 'DELETE', url: start.headers.location as string, headers: auth })).statusCode, 204, 'cancelling an upload is not deleting content')
})
