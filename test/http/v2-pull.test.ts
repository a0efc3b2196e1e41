// The pull category of the OCI distribution spec's conformance workflows: manifests by tag and
// digest (GET and HEAD, Accept negotiation, conditional requests), blobs with ranges, and the
// "does not exist" answers.

import t from 'tap'
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/manifests.js'
import { ADMIN, testApp } from '../helpers.js'
import { digestOf, errorCode, makeImage, pushBlob, pushImage } from './v2-helpers.js'

const auth = { authorization: ADMIN }

t.test('manifests by tag and by digest, GET and HEAD', async (t) => {
  const app = await testApp(t)
  const image = makeImage('pull')
  await pushImage(t, app, 'lib/app', image, 'v1')

  for (const reference of ['v1', image.digest]) {
    const get = await app.inject({ url: `/v2/lib/app/manifests/${reference}`, headers: auth })
    t.equal(get.statusCode, 200, reference)
    t.same(get.rawPayload, image.manifest, 'the exact bytes pushed')
    t.equal(get.headers['content-type'], OCI_MANIFEST)
    t.equal(get.headers['docker-content-digest'], image.digest)
    t.equal(get.headers['content-length'], String(image.manifest.length))
    t.equal(get.headers.etag, `"${image.digest}"`)
    const head = await app.inject({ method: 'HEAD', url: `/v2/lib/app/manifests/${reference}`, headers: auth })
    t.equal(head.statusCode, 200)
    t.equal(head.body, '')
    t.equal(head.headers['content-length'], String(image.manifest.length))
    t.equal(head.headers['docker-content-digest'], image.digest)
  }
  const byDigest = await app.inject({ url: `/v2/lib/app/manifests/${image.digest}`, headers: auth })
  t.equal(byDigest.headers['cache-control'], 'public, max-age=31536000, immutable', 'digest-addressed: immutable')
  const byTag = await app.inject({ url: '/v2/lib/app/manifests/v1', headers: auth })
  t.equal(byTag.headers['cache-control'], undefined, 'a tag can move')
})

t.test('Accept negotiation and conditional GET', async (t) => {
  const app = await testApp(t)
  const image = makeImage('accept')
  await pushImage(t, app, 'a', image, 'v1')
  const url = '/v2/a/manifests/v1'
  t.equal((await app.inject({ url, headers: { ...auth, accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } })).statusCode, 200)
  t.equal((await app.inject({ url, headers: { ...auth, accept: '*/*' } })).statusCode, 200)
  t.equal((await app.inject({ url, headers: { ...auth, accept: 'application/json' } })).statusCode, 200)
  const refused = await app.inject({ url, headers: { ...auth, accept: DOCKER_MANIFEST } })
  t.equal(refused.statusCode, 404, 'an OCI manifest for a client that takes only Docker types')
  t.equal(errorCode(refused), 'MANIFEST_UNKNOWN')
  t.match(refused.json().errors[0].message, /Accept/)

  const cached = await app.inject({ url, headers: { ...auth, 'if-none-match': `"${image.digest}"` } })
  t.equal(cached.statusCode, 304)
  t.equal(cached.body, '')
  t.equal((await app.inject({ url, headers: { ...auth, 'if-none-match': '"sha256:other"' } })).statusCode, 200)
})

t.test('blobs: whole, HEAD, ranges, invalid ranges', async (t) => {
  const app = await testApp(t)
  const data = Buffer.from('0123456789abcdefghij')
  const digest = await pushBlob(t, app, 'a', data)
  const url = `/v2/a/blobs/${digest}`

  const get = await app.inject({ url, headers: auth })
  t.equal(get.statusCode, 200)
  t.same(get.rawPayload, data)
  t.equal(get.headers['content-type'], 'application/octet-stream')
  t.equal(get.headers['docker-content-digest'], digest)
  t.equal(get.headers['accept-ranges'], 'bytes')
  t.equal(get.headers['content-length'], '20')
  t.equal(get.headers['cache-control'], 'public, max-age=31536000, immutable')

  const head = await app.inject({ method: 'HEAD', url, headers: auth })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
  t.equal(head.headers['content-length'], '20')
  t.equal(head.headers['docker-content-digest'], digest)

  const range = await app.inject({ url, headers: { ...auth, range: 'bytes=5-9' } })
  t.equal(range.statusCode, 206)
  t.equal(range.body, '56789')
  t.equal(range.headers['content-range'], 'bytes 5-9/20')
  t.equal(range.headers['content-length'], '5')
  t.equal((await app.inject({ url, headers: { ...auth, range: 'bytes=15-' } })).body, 'fghij')
  t.equal((await app.inject({ url, headers: { ...auth, range: 'bytes=-3' } })).body, 'hij')

  for (const bad of ['bytes=20-', 'bytes=9-5', 'bytes=abc', 'lines=1-2']) {
    const res = await app.inject({ url, headers: { ...auth, range: bad } })
    t.equal(res.statusCode, 416, bad)
    t.equal(errorCode(res), 'RANGE_INVALID')
    t.equal(res.headers['content-range'], 'bytes */20')
  }
  t.equal((await app.inject({ url, headers: { ...auth, 'if-none-match': `"${digest}"` } })).statusCode, 304)
})

t.test('a large blob streams back intact', async (t) => {
  const app = await testApp(t)
  const data = Buffer.alloc(3 * 1024 * 1024)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251
  const digest = await pushBlob(t, app, 'big', data)
  const get = await app.inject({ url: `/v2/big/blobs/${digest}`, headers: auth })
  t.equal(digestOf(get.rawPayload), digest)
})

t.test('what does not exist: unknown manifest, blob, repository; invalid names and digests', async (t) => {
  const app = await testApp(t)
  await pushImage(t, app, 'a', makeImage('exists'), 'v1')
  const missing = digestOf('missing')
  const cases: Array<[string, number, string]> = [
    ['/v2/a/manifests/nope', 404, 'MANIFEST_UNKNOWN'],
    [`/v2/a/manifests/${missing}`, 404, 'MANIFEST_UNKNOWN'],
    [`/v2/a/blobs/${missing}`, 404, 'BLOB_UNKNOWN'],
    ['/v2/no/such/manifests/v1', 404, 'NAME_UNKNOWN'],
    [`/v2/no/such/blobs/${missing}`, 404, 'NAME_UNKNOWN'],
    ['/v2/no/such/tags/list', 404, 'NAME_UNKNOWN'],
    ['/v2/Upper/manifests/v1', 400, 'NAME_INVALID'],
    ['/v2/a..b/tags/list', 400, 'NAME_INVALID'],
    [`/v2/${'a'.repeat(256)}/tags/list`, 400, 'NAME_INVALID'],
    ['/v2/a/blobs/sha256:1234', 400, 'DIGEST_INVALID'],
    [`/v2/a/blobs/sha512:${'a'.repeat(128)}`, 400, 'DIGEST_INVALID'],
    ['/v2/a/manifests/sha256:zz', 400, 'DIGEST_INVALID'],
    ['/v2/a/manifests/-bad-tag', 400, 'TAG_INVALID'],
    ['/v2/a/nothing/here', 404, 'NOT_FOUND'],
  ]
  for (const [url, status, code] of cases) {
    const res = await app.inject({ url, headers: auth })
    t.equal(res.statusCode, status, url.slice(0, 80))
    t.equal(errorCode(res), code, url.slice(0, 80))
    t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0')
  }
  const head = await app.inject({ method: 'HEAD', url: `/v2/a/blobs/${missing}`, headers: auth })
  t.equal(head.statusCode, 404)
  t.equal(head.body, '', 'HEAD errors have no body')
})
