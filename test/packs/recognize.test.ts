// Which manifests pushed into a pack repository might hold a pack: the ORAS shapes, pack.json as
// a config or a titled layer with the other files as titled layers, and what is an artifact
// (images, charts, signatures with a subject, indexes). Also pins the manifest a pack pushed
// through /v1/_packs gets: the ORAS 1.0 shape, whose digest must never change again.

import t from 'tap'
import { type ParsedManifest, parseManifest } from '../../src/oci/manifests.js'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { packShapeOf } from '../../src/packs/recognize.js'
import { sha256Digest } from '../../src/store/digest.js'

const d = (s: string) => sha256Digest(s)
const OCI = 'application/vnd.oci.image.manifest.v1+json'
const TITLE = 'org.opencontainers.image.title'
const layer = (mediaType: string, content: string, title?: string) => ({
  mediaType,
  digest: d(content),
  size: content.length,
  ...(title ? { annotations: { [TITLE]: title } } : {}),
})
const manifest = (doc: Record<string, unknown>): ParsedManifest => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, ...doc })), OCI)

const oras10Config = { mediaType: 'application/vnd.unknown.config.v1+json', digest: d('{}'), size: 2 }
const oras11Config = { mediaType: 'application/vnd.oci.empty.v1+json', digest: d('{}'), size: 2 }
const tarLayer = 'application/vnd.oci.image.layer.v1.tar'

t.test('pack shapes', async (t) => {
  const cases: Array<{ what: string; doc: Record<string, unknown>; kind: string; detail?: Record<string, unknown> }> = [
    { what: 'ORAS 1.0 (no artifactType, unknown config)', doc: { config: oras10Config, layers: [layer(tarLayer, 'tgz', 'hello-1.0.0.tar.gz')] }, kind: 'archive', detail: { layer: { digest: d('tgz') } } },
    {
      what: 'ORAS 1.1+ (artifactType, empty config)',
      doc: { artifactType: 'application/vnd.unknown.artifact.v1', config: oras11Config, layers: [layer(tarLayer, 'tgz', 'hello-1.0.0.tgz')] },
      kind: 'archive',
    },
    { what: 'a single untitled gzip layer', doc: { config: oras11Config, layers: [layer('application/vnd.oci.image.layer.v1.tar+gzip', 'tgz')] }, kind: 'archive' },
    {
      what: 'one titled archive among other files',
      doc: { config: oras10Config, layers: [layer(tarLayer, 'readme', 'README.md'), layer(tarLayer, 'tgz', 'hello-1.0.0.tar.gz')] },
      kind: 'archive',
      detail: { layer: { digest: d('tgz') } },
    },
    {
      what: 'pack.json as the config, the files as titled layers',
      doc: { config: { mediaType: 'application/vnd.spectrocloud.pack.config.v1+json', digest: d('{"name":"x"}'), size: 12 }, layers: [layer(tarLayer, 'v', 'values.yaml'), layer(tarLayer, 'c', 'charts/x-1.0.0.tgz')] },
      kind: 'files',
      detail: { files: [{ path: 'values.yaml' }, { path: 'charts/x-1.0.0.tgz' }] },
    },
    {
      what: 'pack.json as a titled layer',
      doc: { config: oras10Config, layers: [layer('application/json', 'pj', 'pack.json'), layer(tarLayer, 'v', 'values.yaml')] },
      kind: 'files',
      detail: { packJson: { digest: d('pj') }, files: [{ path: 'values.yaml' }] },
    },
    { what: 'a multi-layer image', doc: { config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('cfg'), size: 3 }, layers: [layer('application/vnd.oci.image.layer.v1.tar+gzip', 'a'), layer('application/vnd.oci.image.layer.v1.tar+gzip', 'b')] }, kind: 'artifact' },
    { what: 'a Helm chart', doc: { config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d('{"name":"c"}'), size: 12 }, layers: [layer('application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'chart')] }, kind: 'artifact' },
    {
      what: 'a signature whose subject is a version',
      doc: { config: oras11Config, layers: [layer(tarLayer, 'tgz', 'hello-1.0.0.tar.gz')], subject: { mediaType: OCI, digest: d('m'), size: 1 } },
      kind: 'artifact',
    },
    { what: 'a files-shaped manifest with an untitled layer', doc: { config: oras10Config, layers: [layer('application/json', 'pj', 'pack.json'), layer(tarLayer, 'v')] }, kind: 'artifact' },
    { what: 'a title that climbs out of the pack', doc: { config: oras10Config, layers: [layer('application/json', 'pj', 'pack.json'), layer(tarLayer, 'v', '../values.yaml')] }, kind: 'artifact' },
    { what: 'two titled archives', doc: { config: oras10Config, layers: [layer(tarLayer, 'a', 'a.tar.gz'), layer(tarLayer, 'b', 'b.tar.gz')] }, kind: 'artifact' },
    { what: 'a single layer of another type', doc: { config: oras11Config, layers: [layer('application/vnd.dev.cosign.simplesigning.v1+json', 'sig')] }, kind: 'artifact' },
  ]
  for (const c of cases) {
    const shape = packShapeOf(manifest(c.doc))
    t.equal(shape.kind, c.kind, c.what)
    if (c.detail) t.match(shape, c.detail, c.what)
  }
  const index = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })), 'application/vnd.oci.image.index.v1+json')
  t.equal(packShapeOf(index).kind, 'artifact', 'an index')
})

t.test('a pack pushed through /v1/_packs is served in the ORAS 1.0 shape, digest pinned', async (t) => {
  const archive = { digest: `sha256:${'ab'.repeat(32)}`, size: 1234 }
  const m = packManifest(archive, 'hello-1.0.0.tar.gz')
  t.same(JSON.parse(m.content.toString()), {
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.unknown.config.v1+json', digest: sha256Digest(EMPTY_CONFIG), size: 2 },
    layers: [{ mediaType: tarLayer, digest: archive.digest, size: 1234, annotations: { [TITLE]: 'hello-1.0.0.tar.gz' } }],
  })
  // Changing these bytes changes every pack's manifest digest, which Palette and copies rely on.
  t.equal(m.digest, 'sha256:e545e1cac45f595abbb7e601d4bacf6a1f2c40d032f753d1a2273b76e3643865')
  t.equal(packShapeOf(parseManifest(m.content, OCI)).kind, 'archive', 'and the registry recognises its own shape')
})
