// The content-discovery category of the OCI distribution spec's conformance workflows: tag
// lists with n/last and Link pagination, the catalog, and the referrers API with and without
// the artifactType filter.

import t from 'tap'
import { OCI_INDEX, OCI_MANIFEST } from '../../src/oci/manifests.js'
import { ADMIN, testApp } from '../helpers.js'
import { descriptorOf, digestOf, errorCode, makeImage, pushBlob, pushImage, putManifest } from './v2-helpers.js'

const auth = { authorization: ADMIN }

/** Follows Link headers from `url` and returns every page's body. */
async function allPages(app: Awaited<ReturnType<typeof testApp>>, url: string): Promise<Array<Record<string, unknown>>> {
  const pages = []
  let next: string | undefined = url
  while (next) {
    const res = await app.inject({ url: next, headers: auth })
    if (res.statusCode !== 200) throw new Error(`${next}: ${res.statusCode}`)
    pages.push(res.json() as Record<string, unknown>)
    const link = res.headers.link as string | undefined
    next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined
  }
  return pages
}

t.test('tags/list: byte order, n/last pagination with Link, n=0', async (t) => {
  const app = await testApp(t)
  const image = makeImage('tags')
  await pushImage(t, app, 'a/b', image)
  const names = ['v2', 'latest', 'V1', 'v10', 'stable', '1.0']
  for (const tag of names) t.equal((await putManifest(app, 'a/b', tag, image.manifest)).statusCode, 201)
  const sorted = [...names].sort()

  const all = await app.inject({ url: '/v2/a/b/tags/list', headers: auth })
  t.same(all.json(), { name: 'a/b', tags: sorted })
  t.equal(all.headers.link, undefined)

  const first = await app.inject({ url: '/v2/a/b/tags/list?n=2', headers: auth })
  t.same(first.json().tags, sorted.slice(0, 2))
  t.equal(first.headers.link, `</v2/a/b/tags/list?n=2&last=${encodeURIComponent(sorted[1] as string)}>; rel="next"`)
  const pages = await allPages(app, '/v2/a/b/tags/list?n=2')
  t.equal(pages.length, 3)
  t.same(
    pages.flatMap((p) => p.tags),
    sorted,
    'following Link walks every tag once',
  )
  t.same((await app.inject({ url: `/v2/a/b/tags/list?last=${sorted[3]}`, headers: auth })).json().tags, sorted.slice(4))
  const zero = await app.inject({ url: '/v2/a/b/tags/list?n=0', headers: auth })
  t.same(zero.json(), { name: 'a/b', tags: [] })
  t.equal(zero.headers.link, undefined)
  const bad = await app.inject({ url: '/v2/a/b/tags/list?n=-1', headers: auth })
  t.equal(bad.statusCode, 400)
})

t.test('listings are capped at limits.pagesize, with or without n', async (t) => {
  const app = await testApp(t, { limits: { pagesize: 2 } })
  const image = makeImage('cap')
  await pushImage(t, app, 'a', image)
  for (const tag of ['t1', 't2', 't3']) await putManifest(app, 'a', tag, image.manifest)
  const res = await app.inject({ url: '/v2/a/tags/list?n=50', headers: auth })
  t.same(res.json().tags, ['t1', 't2'])
  t.equal(res.headers.link, '</v2/a/tags/list?n=2&last=t2>; rel="next"')
  t.same((await app.inject({ url: '/v2/a/tags/list', headers: auth })).json().tags, ['t1', 't2'])
})

t.test('an existing repository without tags lists none', async (t) => {
  const app = await testApp(t)
  await pushBlob(t, app, 'empty/repo', 'just a blob')
  t.same((await app.inject({ url: '/v2/empty/repo/tags/list', headers: auth })).json(), { name: 'empty/repo', tags: [] })
})

t.test('the catalog: every repository holding a manifest, sorted, paginated', async (t) => {
  const app = await testApp(t)
  for (const name of ['zeta', 'alpha/one', 'alpha/two', 'mid']) await pushImage(t, app, name, makeImage(name))
  await pushBlob(t, app, 'blobs/only', 'a blob uploaded ahead of its manifest')
  const all = await app.inject({ url: '/v2/_catalog', headers: auth })
  t.equal(all.statusCode, 200)
  t.equal(all.headers['docker-distribution-api-version'], 'registry/2.0')
  t.same(all.json(), { repositories: ['alpha/one', 'alpha/two', 'mid', 'zeta'] })
  const first = await app.inject({ url: '/v2/_catalog?n=3', headers: auth })
  t.same(first.json().repositories, ['alpha/one', 'alpha/two', 'mid'])
  t.equal(first.headers.link, '</v2/_catalog?n=3&last=mid>; rel="next"')
  const pages = await allPages(app, '/v2/_catalog?n=1')
  t.same(
    pages.flatMap((p) => p.repositories),
    ['alpha/one', 'alpha/two', 'mid', 'zeta'],
  )
  t.same((await app.inject({ url: '/v2/_catalog?last=mid', headers: auth })).json().repositories, ['zeta'])
})

t.test('referrers: descriptors of manifests whose subject is the digest, artifactType filter', async (t) => {
  const app = await testApp(t)
  const subject = makeImage('subject')
  await pushImage(t, app, 'r', subject, 'v1')
  const subjectDescriptor = descriptorOf(OCI_MANIFEST, subject.manifest)

  // An artifact with an explicit artifactType and annotations, and a plain image whose config
  // media type is what the referrers API reports.
  const empty = Buffer.from('{}')
  await pushBlob(t, app, 'r', empty)
  const sbomLayer = Buffer.from('{"spdxVersion":"SPDX-2.3"}')
  await pushBlob(t, app, 'r', sbomLayer)
  const sbom = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/spdx+json',
      config: descriptorOf('application/vnd.oci.empty.v1+json', empty),
      layers: [descriptorOf('application/spdx+json', sbomLayer)],
      subject: subjectDescriptor,
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    }),
  )
  const put = await putManifest(app, 'r', digestOf(sbom), sbom)
  t.equal(put.statusCode, 201)
  t.equal(put.headers['oci-subject'], subject.digest)
  const signature = makeImage('signature', 1, { subject: subjectDescriptor })
  await pushImage(t, app, 'r', signature)
  const unrelated = makeImage('unrelated')
  await pushImage(t, app, 'r', unrelated)

  const res = await app.inject({ url: `/v2/r/referrers/${subject.digest}`, headers: auth })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], OCI_INDEX)
  t.equal(res.headers['oci-filters-applied'], undefined)
  const expected = [
    {
      mediaType: OCI_MANIFEST,
      digest: digestOf(sbom),
      size: sbom.length,
      artifactType: 'application/spdx+json',
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    },
    { mediaType: OCI_MANIFEST, digest: signature.digest, size: signature.manifest.length, artifactType: 'application/vnd.oci.image.config.v1+json' },
  ].sort((a, b) => (a.digest < b.digest ? -1 : 1))
  t.same(res.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: expected })

  const filtered = await app.inject({ url: `/v2/r/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`, headers: auth })
  t.equal(filtered.headers['oci-filters-applied'], 'artifactType')
  t.same(
    filtered.json().manifests.map((m: { digest: string }) => m.digest),
    [digestOf(sbom)],
  )
  const none = await app.inject({ url: `/v2/r/referrers/${subject.digest}?artifactType=application/x-none`, headers: auth })
  t.same(none.json().manifests, [])

  const unknownSubject = await app.inject({ url: `/v2/r/referrers/${digestOf('never pushed')}`, headers: auth })
  t.equal(unknownSubject.statusCode, 200, 'a subject that is not there simply has no referrers')
  t.same(unknownSubject.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] })

  const badDigest = await app.inject({ url: '/v2/r/referrers/sha256:nope', headers: auth })
  t.equal(badDigest.statusCode, 400)
  t.equal(errorCode(badDigest), 'DIGEST_INVALID')
  t.equal(errorCode(await app.inject({ url: `/v2/nowhere/referrers/${subject.digest}`, headers: auth })), 'NAME_UNKNOWN')

  const paged = await app.inject({ url: `/v2/r/referrers/${subject.digest}?n=1`, headers: auth })
  t.equal(paged.json().manifests.length, 1)
  t.equal(paged.headers.link, `</v2/r/referrers/${subject.digest}?n=1&last=${encodeURIComponent(expected[0]?.digest as string)}>; rel="next"`)
})
