// The /v2 grammar: repository names, tags, digests, path splitting, and which stored
// repository (pack or OCI) a name means.

import t from 'tap'
import { locateRepository, parseReference, parseV2Path, validateRepositoryName, validateTag } from '../../src/oci/names.js'
import { validatePackName } from '../../src/packs/names.js'

const HEX = 'a'.repeat(64)

t.test('repository names follow the spec grammar', async (t) => {
  for (const good of ['a', 'library/ubuntu', 'a.b/c_d/e__f/g-h/i---j', 'x0/1y', 'spectro-packs/archive/hello', 'a'.repeat(255)]) {
    t.doesNotThrow(() => validateRepositoryName(good), good)
  }
  for (const bad of ['', 'A', 'a/', '/a', 'a//b', 'a_-b', 'a___b', '-a', 'a.', 'a..b', 'a b', 'ä', 'a'.repeat(256), '_catalog']) {
    t.throws(() => validateRepositoryName(bad), { code: 'NAME_INVALID' }, JSON.stringify(bad))
  }
})

t.test('tags and digests', async (t) => {
  for (const tag of ['latest', 'v1.0.0', '_x', 'A-b.c_d', 'a'.repeat(128), 'group__1.0.0']) t.doesNotThrow(() => validateTag(tag), tag)
  for (const tag of ['', '.a', '-a', 'a'.repeat(129), 'a/b', 'a+b']) t.throws(() => validateTag(tag), { code: 'TAG_INVALID' }, JSON.stringify(tag))
  t.same(parseReference('latest'), { kind: 'tag', tag: 'latest' })
  t.same(parseReference(`sha256:${HEX}`), { kind: 'digest', digest: `sha256:${HEX}` })
  t.throws(() => parseReference('sha256:abc'), { code: 'DIGEST_INVALID' })
  t.throws(() => parseReference(`sha512:${'a'.repeat(128)}`), { code: 'DIGEST_INVALID', message: /only sha256/ })
})

t.test('a /v2 path splits into a name and an endpoint, recognised from its end', async (t) => {
  const d = `sha256:${HEX}`
  t.same(parseV2Path('a/b/manifests/latest'), { kind: 'manifest', name: 'a/b', reference: 'latest' })
  t.same(parseV2Path(`a/blobs/${d}`), { kind: 'blob', name: 'a', digest: d })
  t.same(parseV2Path('a/b/c/blobs/uploads/'), { kind: 'uploads', name: 'a/b/c' })
  t.same(parseV2Path('a/blobs/uploads'), { kind: 'uploads', name: 'a' })
  t.same(parseV2Path('a/blobs/uploads/1234-5678'), { kind: 'upload', name: 'a', id: '1234-5678' })
  t.same(parseV2Path('a/b/tags/list'), { kind: 'tags', name: 'a/b' })
  t.same(parseV2Path(`a/referrers/${d}`), { kind: 'referrers', name: 'a', digest: d })
  // Endpoint words may be components of the name: the last occurrence decides.
  t.same(parseV2Path('manifests/blobs/x/manifests/v1'), { kind: 'manifest', name: 'manifests/blobs/x', reference: 'v1' })
  t.same(parseV2Path(`tags/list/blobs/${d}`), { kind: 'blob', name: 'tags/list', digest: d })
  t.same(parseV2Path('blobs/uploads/tags/list'), { kind: 'tags', name: 'blobs/uploads' })
  for (const none of ['', 'a', 'a/b', 'a/manifests/', 'a/blobs/', 'a/tags', 'a/other/x']) t.equal(parseV2Path(none), null, JSON.stringify(none))
})

t.test('names under the namespace are packs; everything else is an OCI repository', async (t) => {
  const ns = 'spectro-packs/archive'
  t.same(locateRepository('spectro-packs/archive/hello-universe', ns, validatePackName), { kind: 'pack', name: 'hello-universe', oci: 'spectro-packs/archive/hello-universe' })
  t.same(locateRepository('library/nginx', ns, validatePackName), { kind: 'oci', name: 'library/nginx', oci: 'library/nginx' })
  t.same(locateRepository('spectro-packs/archive', ns, validatePackName), { kind: 'oci', name: 'spectro-packs/archive', oci: 'spectro-packs/archive' }, 'the namespace itself is no pack')
  t.same(locateRepository('spectro-packs/archived/x', ns, validatePackName), { kind: 'oci', name: 'spectro-packs/archived/x', oci: 'spectro-packs/archived/x' })
  t.throws(() => locateRepository('spectro-packs/archive/a/b', ns, validatePackName), { code: 'NAME_INVALID', message: /single pack name/ })
  t.throws(() => locateRepository('spectro-packs/archive/a__b', ns, validatePackName), { code: 'NAME_INVALID', message: /pack name/ })
  t.throws(() => locateRepository('Bad', ns, validatePackName), { code: 'NAME_INVALID' })
  t.same(locateRepository('mine/hello', 'mine', validatePackName), { kind: 'pack', name: 'hello', oci: 'mine/hello' }, 'the namespace is configurable')
})
