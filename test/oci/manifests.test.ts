// Manifest parsing: the four accepted kinds, what each refers to, the media type rules, and
// MANIFEST_INVALID (with the offending field) for everything else.

import t from 'tap'
import { createHash } from 'node:crypto'
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parseManifest } from '../../src/oci/manifests.js'

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`
const body = (doc: unknown) => Buffer.from(JSON.stringify(doc))
const desc = (mediaType: string, content: string) => ({ mediaType, digest: d(content), size: content.length })

const config = desc('application/vnd.oci.image.config.v1+json', '{}')
const layer = desc('application/vnd.oci.image.layer.v1.tar+gzip', 'layer')

t.test('an OCI image manifest: references, artifactType from the config, subject, annotations', async (t) => {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config,
    layers: [layer],
    subject: desc(OCI_MANIFEST, 'subject'),
    annotations: { 'org.example': 'yes' },
  }
  const parsed = parseManifest(body(doc), OCI_MANIFEST)
  t.equal(parsed.mediaType, OCI_MANIFEST)
  t.equal(parsed.digest, d(JSON.stringify(doc)))
  t.equal(parsed.size, JSON.stringify(doc).length)
  t.equal(parsed.artifactType, 'application/vnd.oci.image.config.v1+json')
  t.same(parsed.subject, desc(OCI_MANIFEST, 'subject'))
  t.same(parsed.annotations, { 'org.example': 'yes' })
  t.same(parsed.blobs, [config, layer])
  t.same(parsed.manifests, [])
})

t.test('an artifact manifest: explicit artifactType, empty config, no layers', async (t) => {
  const empty = desc('application/vnd.oci.empty.v1+json', '{}')
  const parsed = parseManifest(body({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sbom', config: empty, layers: [] }), OCI_MANIFEST)
  t.equal(parsed.artifactType, 'application/vnd.example.sbom')
  t.same(parsed.blobs, [empty])
})

t.test('indexes and Docker lists name child manifests', async (t) => {
  const child = { ...desc(OCI_MANIFEST, 'child'), platform: { os: 'linux', architecture: 'amd64' } }
  const index = parseManifest(body({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child], artifactType: 'application/x.example' }), OCI_INDEX)
  t.same(index.manifests, [desc(OCI_MANIFEST, 'child')])
  t.same(index.blobs, [])
  t.equal(index.artifactType, 'application/x.example')
  const list = parseManifest(body({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...desc(DOCKER_MANIFEST, 'c') }] }), DOCKER_LIST)
  t.equal(list.mediaType, DOCKER_LIST)
  t.equal(list.artifactType, null)
})

t.test('Docker schema 2 manifests; foreign layers need not be in the repository', async (t) => {
  const foreign = { ...desc('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'windows'), urls: ['https://example.com/layer'] }
  const dockerConfig = desc('application/vnd.docker.container.image.v1+json', '{}')
  const parsed = parseManifest(body({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: dockerConfig, layers: [foreign, layer] }), DOCKER_MANIFEST)
  t.same(parsed.blobs, [dockerConfig, layer])
})

t.test('the media type comes from Content-Type, or from the body when the header is generic', async (t) => {
  const doc = { schemaVersion: 2, config, layers: [layer] }
  t.equal(parseManifest(body(doc), undefined).mediaType, OCI_MANIFEST, 'no mediaType anywhere: the shape decides')
  t.equal(parseManifest(body(doc), `${OCI_MANIFEST}; charset=utf-8`).mediaType, OCI_MANIFEST)
  t.equal(parseManifest(body({ schemaVersion: 2, manifests: [] }), 'application/json').mediaType, OCI_INDEX)
  t.equal(parseManifest(body({ ...doc, mediaType: DOCKER_MANIFEST }), 'application/json').mediaType, DOCKER_MANIFEST)
})

t.test('invalid manifests are MANIFEST_INVALID with the field', async (t) => {
  const cases: Array<[string, unknown, string | undefined, RegExp]> = [
    ['not JSON', '{', OCI_MANIFEST, /not JSON/],
    ['an array', [], OCI_MANIFEST, /JSON object/],
    ['schemaVersion 1', { schemaVersion: 1, name: 'x', fsLayers: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws', /schema 1/],
    ['wrong schemaVersion', { schemaVersion: 3, config, layers: [] }, OCI_MANIFEST, /schemaVersion/],
    ['Content-Type differs from mediaType', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }, OCI_MANIFEST, /does not match/],
    ['unknown media type', { schemaVersion: 2, config, layers: [] }, 'application/vnd.example+json', /unsupported manifest media type/],
    ['no config', { schemaVersion: 2, layers: [] }, OCI_MANIFEST, /config must be a descriptor/],
    ['layers not a list', { schemaVersion: 2, config, layers: {} }, OCI_MANIFEST, /layers must be a list/],
    ['bad digest', { schemaVersion: 2, config: { ...config, digest: 'sha256:xyz' }, layers: [] }, OCI_MANIFEST, /config\.digest/],
    ['sha512 digest', { schemaVersion: 2, config: { ...config, digest: `sha512:${'a'.repeat(128)}` }, layers: [] }, OCI_MANIFEST, /only algorithm/],
    ['negative size', { schemaVersion: 2, config, layers: [{ ...layer, size: -1 }] }, OCI_MANIFEST, /layers\[0\]\.size/],
    ['bad media type in a descriptor', { schemaVersion: 2, config: { ...config, mediaType: 'nope' }, layers: [] }, OCI_MANIFEST, /config\.mediaType/],
    ['annotations not strings', { schemaVersion: 2, config, layers: [], annotations: { a: 1 } }, OCI_MANIFEST, /annotations/],
    ['subject on a Docker manifest', { schemaVersion: 2, config, layers: [layer], subject: config }, DOCKER_MANIFEST, /subject/],
    ['Docker manifest without layers', { schemaVersion: 2, config, layers: [] }, DOCKER_MANIFEST, /at least one layer/],
    ['index with layers', { schemaVersion: 2, manifests: [], layers: [] }, OCI_INDEX, /not "config" or "layers"/],
    ['manifest with manifests', { schemaVersion: 2, config, layers: [], manifests: [] }, OCI_MANIFEST, /has no "manifests"/],
    ['index entries not descriptors', { schemaVersion: 2, manifests: ['x'] }, OCI_INDEX, /manifests\[0\]/],
    ['artifactType not a media type', { schemaVersion: 2, config, layers: [], artifactType: 'x' }, OCI_MANIFEST, /artifactType/],
  ]
  for (const [name, doc, contentType, message] of cases) {
    const raw = typeof doc === 'string' ? Buffer.from(doc) : body(doc)
    t.throws(() => parseManifest(raw, contentType), { code: 'MANIFEST_INVALID', message }, name)
  }
})
