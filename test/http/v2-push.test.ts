// The push category of the OCI distribution spec's conformance workflows: monolithic and
// chunked blob uploads, mounts, and manifest pushes, with their error cases.

import t from 'tap'
import { Readable } from 'node:stream'
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/manifests.js'
import { ADMIN, testApp } from '../helpers.js'
import { readAll } from '../store/conformance.js'
import { stagedIds } from '../store/uploads-conformance.js'
import { descriptorOf, digestOf, errorCode, makeImage, makeIndex, OCTET, pushBlob, pushImage, putManifest } from './v2-helpers.js'

const auth = { authorization: ADMIN }

t.test('GET /v2/ answers 200 {} with the API version header', async (t) => {
  const app = await testApp(t)
  const res = await app.inject({ url: '/v2/', headers: auth })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {})
  t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0')
  t.equal((await app.inject({ url: '/v2', headers: auth })).statusCode, 200, 'without the trailing slash too')
})

t.test('monolithic upload: POST ?digest= stores the blob, links it, leaves no temp file', async (t) => {
  const app = await testApp(t)
  const data = Buffer.from('a monolithic blob')
  const digest = digestOf(data)
  const res = await app.inject({ method: 'POST', url: `/v2/team/app/blobs/uploads/?digest=${digest}`, headers: { ...auth, 'content-type': OCTET }, payload: data })
  t.equal(res.statusCode, 201)
  t.equal(res.headers.location, `/v2/team/app/blobs/${digest}`)
  t.equal(res.headers['docker-content-digest'], digest)
  const head = await app.inject({ method: 'HEAD', url: `/v2/team/app/blobs/${digest}`, headers: auth })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(data.length))

  const { db, store, staging } = app.registry
  t.same(await db.prepare('SELECT digest, size FROM blobs').all(), [{ digest, size: data.length }], 'a blobs row')
  t.same(
    await db.prepare('SELECT r.kind, r.name, rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id').all(),
    [{ kind: 'oci', name: 'team/app', digest }],
    'linked to the repository, created on first upload',
  )
  // Through the store and the staging, so that the storage matrix (test/http/s3-storage.test.ts) checks S3 too.
  t.same(await readAll(await store.open(digest)), data)
  t.same(await stagedIds(staging), [])
})

t.test('monolithic upload with the wrong digest is DIGEST_INVALID and stores nothing', async (t) => {
  const app = await testApp(t)
  const claimed = digestOf('what the client claims')
  const res = await app.inject({ method: 'POST', url: `/v2/a/blobs/uploads/?digest=${claimed}`, headers: { ...auth, 'content-type': OCTET }, payload: 'other bytes' })
  t.equal(res.statusCode, 400)
  t.equal(errorCode(res), 'DIGEST_INVALID')
  t.equal((await app.inject({ method: 'HEAD', url: `/v2/a/blobs/${claimed}`, headers: auth })).statusCode, 404)
  t.equal((await app.inject({ method: 'HEAD', url: `/v2/a/blobs/${digestOf('other bytes')}`, headers: auth })).statusCode, 404)
  const bad = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/?digest=sha256:nothex', headers: { ...auth, 'content-type': OCTET }, payload: 'x' })
  t.equal(errorCode(bad), 'DIGEST_INVALID')
})

t.test('POST then PUT: the whole blob in the closing PUT', async (t) => {
  const app = await testApp(t)
  const start = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })
  t.equal(start.statusCode, 202)
  const location = start.headers.location as string
  t.match(location, /^\/v2\/a\/blobs\/uploads\/[0-9a-f-]{36}$/)
  t.equal(start.headers['docker-upload-uuid'], location.split('/').pop())
  t.equal(start.headers.range, '0-0')
  const data = Buffer.from('put in one go')
  const res = await app.inject({ method: 'PUT', url: `${location}?digest=${digestOf(data)}`, headers: { ...auth, 'content-type': OCTET }, payload: data })
  t.equal(res.statusCode, 201)
  t.equal(res.headers.location, `/v2/a/blobs/${digestOf(data)}`)
  const get = await app.inject({ url: `/v2/a/blobs/${digestOf(data)}`, headers: auth })
  t.same(get.rawPayload, data)
})

t.test('chunked upload: PATCH chunks with Content-Range, status, out-of-order chunk, PUT to finish', async (t) => {
  const app = await testApp(t)
  const chunks = [Buffer.alloc(1000, 1), Buffer.alloc(500, 2), Buffer.alloc(3, 3)]
  const whole = Buffer.concat(chunks)
  const start = await app.inject({ method: 'POST', url: '/v2/big/one/blobs/uploads/', headers: auth })
  let location = start.headers.location as string
  const id = start.headers['docker-upload-uuid']

  const first = await app.inject({
    method: 'PATCH',
    url: location,
    headers: { ...auth, 'content-type': OCTET, 'content-range': '0-999' },
    payload: chunks[0],
  })
  t.equal(first.statusCode, 202)
  t.equal(first.headers.range, '0-999')
  t.equal(first.headers['docker-upload-uuid'], id)
  location = first.headers.location as string

  const outOfOrder = await app.inject({
    method: 'PATCH',
    url: location,
    headers: { ...auth, 'content-type': OCTET, 'content-range': '1200-1699' },
    payload: chunks[1],
  })
  t.equal(outOfOrder.statusCode, 416)
  t.equal(errorCode(outOfOrder), 'RANGE_INVALID')
  t.equal(outOfOrder.headers.range, '0-999', 'the 416 says where the upload stands')
  t.equal(outOfOrder.headers.location, location)

  const repeated = await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET, 'content-range': '0-999' }, payload: chunks[0] })
  t.equal(repeated.statusCode, 416, 'a chunk sent twice is out of order too')

  const status = await app.inject({ url: location, headers: auth })
  t.equal(status.statusCode, 204)
  t.equal(status.headers.range, '0-999')
  t.equal(status.headers.location, location)

  const mismatch = await app.inject({
    method: 'PATCH',
    url: location,
    headers: { ...auth, 'content-type': OCTET, 'content-range': '1000-1009' },
    payload: chunks[1],
  })
  t.equal(mismatch.statusCode, 400)
  t.equal(errorCode(mismatch), 'BLOB_UPLOAD_INVALID', 'Content-Range and Content-Length disagree')

  const second = await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET, 'content-range': '1000-1499' }, payload: chunks[1] })
  t.equal(second.statusCode, 202)
  t.equal(second.headers.range, '0-1499')

  const streamed = await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET }, payload: chunks[2] })
  t.equal(streamed.statusCode, 202, 'a chunk without Content-Range is appended (streamed upload)')
  t.equal(streamed.headers.range, '0-1502')

  const done = await app.inject({ method: 'PUT', url: `${location}?digest=${digestOf(whole)}`, headers: auth })
  t.equal(done.statusCode, 201)
  t.equal(done.headers['docker-content-digest'], digestOf(whole))
  const get = await app.inject({ url: `/v2/big/one/blobs/${digestOf(whole)}`, headers: auth })
  t.same(get.rawPayload, whole)
  const after = await app.inject({ url: location, headers: auth })
  t.equal(after.statusCode, 404)
  t.equal(errorCode(after), 'BLOB_UPLOAD_UNKNOWN', 'a finished session is gone')
  t.same(await stagedIds(app.registry.staging), [])
})

t.test('the closing PUT may carry the last chunk with its Content-Range', async (t) => {
  const app = await testApp(t, {}, { storage: 'inmemory' })
  const start = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })
  const location = start.headers.location as string
  await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET, 'content-range': '0-2' }, payload: 'abc' })
  const res = await app.inject({
    method: 'PUT',
    url: `${location}?digest=${digestOf('abcdef')}`,
    headers: { ...auth, 'content-type': OCTET, 'content-range': '3-5' },
    payload: 'def',
  })
  t.equal(res.statusCode, 201)
  t.equal((await app.inject({ url: `/v2/a/blobs/${digestOf('abcdef')}`, headers: auth })).body, 'abcdef')
})

t.test('a PUT with the wrong digest ends the session; a PUT without one is DIGEST_INVALID', async (t) => {
  const app = await testApp(t)
  const start = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })
  const location = start.headers.location as string
  await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET }, payload: 'bytes' })
  const none = await app.inject({ method: 'PUT', url: location, headers: auth })
  t.equal(none.statusCode, 400)
  t.equal(errorCode(none), 'DIGEST_INVALID')
  const wrong = await app.inject({ method: 'PUT', url: `${location}?digest=${digestOf('other')}`, headers: auth })
  t.equal(wrong.statusCode, 400)
  t.equal(errorCode(wrong), 'DIGEST_INVALID')
  t.equal(errorCode(await app.inject({ url: location, headers: auth })), 'BLOB_UPLOAD_UNKNOWN')
  t.same(await stagedIds(app.registry.staging), [], 'its bytes are removed')
  t.equal((await app.inject({ method: 'HEAD', url: `/v2/a/blobs/${digestOf('bytes')}`, headers: auth })).statusCode, 404)
})

t.test('DELETE cancels an upload; sessions belong to their repository', async (t) => {
  const app = await testApp(t)
  const start = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })
  const location = start.headers.location as string
  const id = start.headers['docker-upload-uuid'] as string
  const elsewhere = await app.inject({ method: 'PATCH', url: `/v2/b/blobs/uploads/${id}`, headers: { ...auth, 'content-type': OCTET }, payload: 'x' })
  t.equal(elsewhere.statusCode, 404)
  t.equal(errorCode(elsewhere), 'BLOB_UPLOAD_UNKNOWN')
  const cancel = await app.inject({ method: 'DELETE', url: location, headers: auth })
  t.equal(cancel.statusCode, 204)
  const patch = await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET }, payload: 'x' })
  t.equal(patch.statusCode, 404)
  t.equal(errorCode(patch), 'BLOB_UPLOAD_UNKNOWN')
  t.equal((await app.inject({ method: 'DELETE', url: location, headers: auth })).statusCode, 404)
  t.equal(errorCode(await app.inject({ url: '/v2/a/blobs/uploads/not-a-session', headers: auth })), 'BLOB_UPLOAD_UNKNOWN')
  t.same(await stagedIds(app.registry.staging), [])
})

t.test('cross-repository mount: 201 when the source has the blob, else an upload session', async (t) => {
  const app = await testApp(t)
  const digest = await pushBlob(t, app, 'source/repo', 'shared layer')
  const mounted = await app.inject({ method: 'POST', url: `/v2/target/repo/blobs/uploads/?mount=${digest}&from=source/repo`, headers: auth })
  t.equal(mounted.statusCode, 201)
  t.equal(mounted.headers.location, `/v2/target/repo/blobs/${digest}`)
  t.equal(mounted.headers['docker-content-digest'], digest)
  t.equal((await app.inject({ url: `/v2/target/repo/blobs/${digest}`, headers: auth })).body, 'shared layer')

  const absent = digestOf('not there')
  const fallback = await app.inject({ method: 'POST', url: `/v2/target/repo/blobs/uploads/?mount=${absent}&from=source/repo`, headers: auth })
  t.equal(fallback.statusCode, 202, 'the source lacks the blob: a session instead')
  t.match(fallback.headers.location, /^\/v2\/target\/repo\/blobs\/uploads\//)
  const noRepo = await app.inject({ method: 'POST', url: `/v2/target/repo/blobs/uploads/?mount=${digest}&from=no/such/repo`, headers: auth })
  t.equal(noRepo.statusCode, 202)
  const badFrom = await app.inject({ method: 'POST', url: `/v2/target/repo/blobs/uploads/?mount=${digest}&from=Bad!`, headers: auth })
  t.equal(errorCode(badFrom), 'NAME_INVALID')
  const badMount = await app.inject({ method: 'POST', url: '/v2/target/repo/blobs/uploads/?mount=sha256:zz&from=source/repo', headers: auth })
  t.equal(errorCode(badMount), 'DIGEST_INVALID')
})

t.test('manifest push by tag and by digest', async (t) => {
  const app = await testApp(t)
  const image = makeImage('push')
  await pushImage(t, app, 'a/b', image, 'v1')
  const byDigest = await putManifest(app, 'a/b', image.digest, image.manifest)
  t.equal(byDigest.statusCode, 201)
  t.equal(byDigest.headers.location, `/v2/a/b/manifests/${image.digest}`)
  t.equal(byDigest.headers['docker-content-digest'], image.digest)
  t.equal(byDigest.headers['oci-subject'], undefined)
  const tags = await app.inject({ url: '/v2/a/b/tags/list', headers: auth })
  t.same(tags.json(), { name: 'a/b', tags: ['v1'] })
  const rows = (await app.registry.db.prepare("SELECT kind, digest FROM manifest_references ORDER BY kind, digest").all()) as Array<{ kind: string; digest: string }>
  t.same(
    rows.map((r) => r.digest).sort(),
    [digestOf(image.config), ...image.layers.map((l) => digestOf(l))].sort(),
    'references recorded',
  )
})

t.test('moving a tag, and the event log', async (t) => {
  const app = await testApp(t)
  const one = makeImage('one')
  const two = makeImage('two')
  await pushImage(t, app, 'a', one, 'latest')
  await pushImage(t, app, 'a', two, 'latest')
  const got = await app.inject({ url: '/v2/a/manifests/latest', headers: auth })
  t.equal(got.headers['docker-content-digest'], two.digest)
  const events = await app.registry.db.prepare('SELECT actor, action, repository, tag, old_digest, new_digest FROM events ORDER BY id').all()
  t.same(events, [
    { actor: 'admin', action: 'create', repository: 'a', tag: 'latest', old_digest: null, new_digest: one.digest },
    { actor: 'admin', action: 'update', repository: 'a', tag: 'latest', old_digest: one.digest, new_digest: two.digest },
  ])
})

t.test('manifest push errors', async (t) => {
  const app = await testApp(t, { limits: { manifestsize: 2048 } })
  const image = makeImage('errors')

  const missing = await putManifest(app, 'a', 'v1', image.manifest)
  t.equal(missing.statusCode, 400)
  t.equal(errorCode(missing), 'MANIFEST_BLOB_UNKNOWN', 'the blobs were never pushed')
  t.equal(missing.json().errors[0].detail.missing.length, 3)

  await pushBlob(t, app, 'a', image.config)
  for (const layer of image.layers) await pushBlob(t, app, 'a', layer)
  const otherRepo = await putManifest(app, 'b', 'v1', image.manifest)
  t.equal(errorCode(otherRepo), 'MANIFEST_BLOB_UNKNOWN', 'blobs of another repository do not count')

  const wrongDigest = await putManifest(app, 'a', digestOf('something else'), image.manifest)
  t.equal(wrongDigest.statusCode, 400)
  t.equal(errorCode(wrongDigest), 'DIGEST_INVALID')

  const wrongSize = JSON.parse(image.manifest.toString())
  wrongSize.layers[0].size += 1
  const sized = await putManifest(app, 'a', 'v1', JSON.stringify(wrongSize))
  t.equal(errorCode(sized), 'MANIFEST_INVALID', 'a descriptor size that differs from the blob')

  t.equal(errorCode(await putManifest(app, 'a', 'v1', '{not json')), 'MANIFEST_INVALID')
  t.equal(errorCode(await putManifest(app, 'a', 'v1', image.manifest, OCI_INDEX)), 'MANIFEST_INVALID', 'Content-Type and mediaType disagree')
  t.equal(errorCode(await putManifest(app, 'a', 'bad+tag', image.manifest)), 'TAG_INVALID')
  t.equal(errorCode(await putManifest(app, 'a', '', image.manifest)), 'NOT_FOUND')

  const big = Buffer.from(JSON.stringify({ ...JSON.parse(image.manifest.toString()), annotations: { pad: 'x'.repeat(3000) } }))
  const tooLarge = await putManifest(app, 'a', 'v1', big)
  t.equal(tooLarge.statusCode, 413)
  t.equal(errorCode(tooLarge), 'PAYLOAD_TOO_LARGE')
  const chunked = await app.inject({
    method: 'PUT',
    url: '/v2/a/manifests/v1',
    headers: { authorization: ADMIN, 'content-type': OCI_MANIFEST, 'transfer-encoding': 'chunked' },
    payload: Readable.from([big.subarray(0, 1000), big.subarray(1000)]),
  })
  t.equal(chunked.statusCode, 413, 'also without a Content-Length')

  const index = makeIndex([image, makeImage('never pushed')])
  const childMissing = await putManifest(app, 'a', 'multi', index, OCI_INDEX)
  t.equal(errorCode(childMissing), 'MANIFEST_BLOB_UNKNOWN', 'index children must be pushed first')
  t.equal((await app.inject({ url: '/v2/a/tags/list', headers: auth })).json().tags.length, 0, 'nothing was tagged')
})

t.test('indexes, subjects and Docker schema 2', async (t) => {
  const app = await testApp(t)
  const amd = makeImage('amd64')
  const arm = makeImage('arm64')
  await pushImage(t, app, 'multi', amd)
  await pushImage(t, app, 'multi', arm)
  const index = makeIndex([amd, arm])
  const res = await putManifest(app, 'multi', 'latest', index, OCI_INDEX)
  t.equal(res.statusCode, 201)
  t.equal(res.headers['docker-content-digest'], digestOf(index))

  const sbom = makeImage('sbom', 1, { artifactType: 'application/spdx+json', subject: descriptorOf(OCI_INDEX, index) })
  await pushBlob(t, app, 'multi', sbom.config)
  await pushBlob(t, app, 'multi', sbom.layers[0] as Buffer)
  const withSubject = await putManifest(app, 'multi', sbom.digest, sbom.manifest)
  t.equal(withSubject.statusCode, 201)
  t.equal(withSubject.headers['oci-subject'], digestOf(index))

  const dockerConfig = Buffer.from('{"docker":true}')
  const dockerLayer = Buffer.from('docker layer')
  await pushBlob(t, app, 'docker', dockerConfig)
  await pushBlob(t, app, 'docker', dockerLayer)
  const schema2 = JSON.stringify({
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: descriptorOf('application/vnd.docker.container.image.v1+json', dockerConfig),
    layers: [descriptorOf('application/vnd.docker.image.rootfs.diff.tar.gzip', dockerLayer)],
  })
  t.equal((await putManifest(app, 'docker', 'v2', schema2, DOCKER_MANIFEST)).statusCode, 201)
  const list = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...descriptorOf(DOCKER_MANIFEST, schema2), platform: { os: 'linux', architecture: 'amd64' } }] })
  t.equal((await putManifest(app, 'docker', 'list', list, DOCKER_LIST)).statusCode, 201)
  const got = await app.inject({ url: '/v2/docker/manifests/list', headers: { ...auth, accept: `${DOCKER_LIST}, ${DOCKER_MANIFEST}` } })
  t.equal(got.headers['content-type'], DOCKER_LIST)
  t.equal(got.body, list)
  const schema1 = await putManifest(app, 'docker', 'old', JSON.stringify({ schemaVersion: 1, name: 'docker', tag: 'old', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws')
  t.equal(errorCode(schema1), 'MANIFEST_INVALID')
})

t.test('the same upload flows on in-memory storage', async (t) => {
  const app = await testApp(t, {}, { storage: 'inmemory' })
  const image = makeImage('memory')
  await pushImage(t, app, 'mem/repo', image, 'v1')
  const start = await app.inject({ method: 'POST', url: '/v2/mem/repo/blobs/uploads/', headers: auth })
  const location = start.headers.location as string
  await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET, 'content-range': '0-3' }, payload: 'mem!' })
  t.equal((await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET, 'content-range': '9-9' }, payload: 'x' })).statusCode, 416)
  t.equal((await app.inject({ method: 'PUT', url: `${location}?digest=${digestOf('mem!')}`, headers: auth })).statusCode, 201)
  t.equal((await app.inject({ url: `/v2/mem/repo/blobs/${digestOf('mem!')}`, headers: auth })).body, 'mem!')
  t.equal((await app.inject({ url: '/v2/mem/repo/manifests/v1', headers: auth })).headers['docker-content-digest'], image.digest)
})
