// The /v2 header grammar: Range, Content-Range, Accept negotiation and Link.

import t from 'tap'
import { parseRange } from '../../src/http/blob-response.js'
import { acceptsManifest, parseContentRange } from '../../src/http/distribution/headers.js'
import { nextLink } from '../../src/http/pagination.js'
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/manifests.js'

t.test('Range for blob reads', async (t) => {
  t.equal(parseRange(undefined, 10), null)
  t.same(parseRange('bytes=0-4', 10), { start: 0, end: 4 })
  t.same(parseRange('bytes=5-', 10), { start: 5, end: 9 })
  t.same(parseRange('bytes=-3', 10), { start: 7, end: 9 })
  t.same(parseRange('bytes=-30', 10), { start: 0, end: 9 }, 'a suffix longer than the blob is the whole blob')
  t.same(parseRange('bytes=8-100', 10), { start: 8, end: 9 }, 'the end is clipped')
  t.equal(parseRange('bytes=0-1,4-5', 10), null, 'several ranges: the whole blob')
  for (const bad of ['bytes=10-', 'bytes=5-2', 'bytes=-0', 'bytes=-', 'bytes=a-b', 'items=0-1', '0-1']) {
    t.throws(() => parseRange(bad, 10), { code: 'RANGE_INVALID', headers: { 'content-range': 'bytes */10' } }, bad)
  }
  t.throws(() => parseRange('bytes=0-', 0), { code: 'RANGE_INVALID' }, 'an empty blob has no ranges')
})

t.test('Content-Range of upload chunks', async (t) => {
  t.equal(parseContentRange(undefined), null)
  t.same(parseContentRange('0-99'), { start: 0, end: 99 })
  t.same(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 })
  t.same(parseContentRange('bytes=5-5'), { start: 5, end: 5 })
  for (const bad of ['', '5', '9-3', 'a-b', '-1-2', `0-${'9'.repeat(30)}`]) t.throws(() => parseContentRange(bad), { code: 'BLOB_UPLOAD_INVALID' }, bad)
})

t.test('Accept negotiation for manifests', async (t) => {
  t.ok(acceptsManifest(undefined, OCI_MANIFEST), 'no Accept takes anything')
  t.ok(acceptsManifest('*/*', OCI_INDEX))
  t.ok(acceptsManifest('application/json', OCI_MANIFEST), 'an Accept naming no manifest type does not negotiate')
  t.ok(acceptsManifest(`${DOCKER_MANIFEST}, ${OCI_MANIFEST}`, OCI_MANIFEST))
  t.ok(acceptsManifest(`${DOCKER_MANIFEST};q=0.5,${OCI_MANIFEST}; q=0.9`, DOCKER_MANIFEST), 'q values other than 0 still accept')
  t.notOk(acceptsManifest(DOCKER_MANIFEST, OCI_MANIFEST), 'lists manifest types but not this one')
  t.notOk(acceptsManifest(`${OCI_MANIFEST}, ${DOCKER_MANIFEST}`, DOCKER_LIST))
  t.notOk(acceptsManifest(`${OCI_INDEX};q=0, ${OCI_MANIFEST}`, OCI_INDEX), 'q=0 excludes')
})

t.test('Link headers', async (t) => {
  t.equal(nextLink('/v2/a/b/tags/list', { n: 2, last: 'v1' }), '</v2/a/b/tags/list?n=2&last=v1>; rel="next"')
  t.equal(nextLink('/v2/_catalog', { n: 1, last: 'a/b', artifactType: undefined }), '</v2/_catalog?n=1&last=a%2Fb>; rel="next"')
})
