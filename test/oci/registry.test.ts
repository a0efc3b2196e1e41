// The seam to packs: writes under the namespace reach the PackOciBridge (after the generic
// manifest checks), or answer 405 UNSUPPORTED when there is none. The bridge here records its
// calls; the real one belongs to the pack publisher and has its own tests.

import t from 'tap'
import { createHash } from 'node:crypto'
import { openDatabase } from '../../src/meta/db.js'
import { OCI_INDEX, OCI_MANIFEST, type ParsedManifest } from '../../src/oci/manifests.js'
import type { PackOciBridge } from '../../src/oci/pack-bridge.js'
import { OciRegistry, type OciRegistrySettings } from '../../src/oci/registry.js'
import { MemoryBlobStore } from '../../src/store/memory.js'
import { validatePackName } from '../../src/packs/names.js'

const d = (s: string | Buffer) => `sha256:${createHash('sha256').update(s).digest('hex')}`

class RecordingBridge implements PackOciBridge {
  calls: unknown[][] = []
  async putManifest(packName: string, reference: string, body: Buffer, manifest: ParsedManifest, actor: string) {
    this.calls.push(['putManifest', packName, reference, body.toString(), manifest.mediaType, actor])
    return { digest: d(body), outcome: 'created' as const }
  }
  async deleteManifest(packName: string, digest: string, actor: string) {
    this.calls.push(['deleteManifest', packName, digest, actor])
  }
  async deleteTag(packName: string, tag: string, actor: string) {
    this.calls.push(['deleteTag', packName, tag, actor])
  }
}

const settings: OciRegistrySettings = { namespace: 'spectro-packs/archive', checkPackName: validatePackName, pageSize: 100, deleteEnabled: true }

async function setUp(t: { teardown(fn: () => Promise<void>): void }, bridge?: PackOciBridge, overrides: Partial<OciRegistrySettings> = {}) {
  const db = await openDatabase({ kind: 'sqlite', path: ':memory:' })
  t.teardown(() => db.close())
  return new OciRegistry(db, new MemoryBlobStore(), { ...settings, ...overrides }, bridge)
}

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: d('{}'), size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('archive'), size: 7 }],
    subject: { mediaType: OCI_MANIFEST, digest: d('subject'), size: 7 },
  }),
)

t.test('writes under the namespace go to the bridge with the pack name', async (t) => {
  const bridge = new RecordingBridge()
  const registry = await setUp(t, bridge)
  const repo = registry.locate('spectro-packs/archive/hello')
  const pushed = await registry.putManifest(repo, '1.0.0', manifest, `${OCI_MANIFEST}; charset=utf-8`, 'admin')
  t.same(pushed, { digest: d(manifest), subject: d('subject'), outcome: 'created', size: manifest.length + 2 + 7 }, 'the subject is reported for OCI-Subject; the size counts the config and layer')
  await registry.putManifest(repo, d(manifest), manifest, OCI_MANIFEST, 'admin')
  await registry.deleteManifest(repo, d(manifest), 'admin')
  await registry.deleteManifest(repo, '1.0.x', 'admin')
  t.same(bridge.calls, [
    ['putManifest', 'hello', '1.0.0', manifest.toString(), OCI_MANIFEST, 'admin'],
    ['putManifest', 'hello', d(manifest), manifest.toString(), OCI_MANIFEST, 'admin'],
    ['deleteManifest', 'hello', d(manifest), 'admin'],
    ['deleteTag', 'hello', '1.0.x', 'admin'],
  ])
})

t.test('what fails the generic checks never reaches the bridge', async (t) => {
  const bridge = new RecordingBridge()
  const registry = await setUp(t, bridge)
  const repo = registry.locate('spectro-packs/archive/hello')
  await t.rejects(registry.putManifest(repo, '1.0.0', Buffer.from('{'), OCI_MANIFEST, 'admin'), { code: 'MANIFEST_INVALID' })
  await t.rejects(registry.putManifest(repo, '1.0.0', manifest, OCI_INDEX, 'admin'), { code: 'MANIFEST_INVALID' })
  await t.rejects(registry.putManifest(repo, d('other'), manifest, OCI_MANIFEST, 'admin'), { code: 'DIGEST_INVALID' })
  await t.rejects(registry.putManifest(repo, 'bad/tag', manifest, OCI_MANIFEST, 'admin'), { code: 'TAG_INVALID' })
  await t.rejects(registry.deleteManifest(repo, 'sha256:short', 'admin'), { code: 'DIGEST_INVALID' })
  const noDelete = await setUp(t, bridge, { deleteEnabled: false })
  await t.rejects(noDelete.deleteManifest(noDelete.locate('spectro-packs/archive/hello'), '1.0.0', 'admin'), { code: 'UNSUPPORTED' })
  t.same(bridge.calls, [])
})

t.test('without a bridge, writes under the namespace are 405 UNSUPPORTED; plain repositories work', async (t) => {
  const registry = await setUp(t)
  const repo = registry.locate('spectro-packs/archive/hello')
  await t.rejects(registry.putManifest(repo, '1.0.0', manifest, OCI_MANIFEST, 'admin'), { code: 'UNSUPPORTED', status: 405, message: /spectro-packs\/archive/ })
  await t.rejects(registry.deleteManifest(repo, '1.0.0', 'admin'), { code: 'UNSUPPORTED' })
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }))
  const plain = registry.locate('plain/repo')
  t.same(await registry.putManifest(plain, 'empty', index, OCI_INDEX, 'admin'), { digest: d(index), subject: null, outcome: 'created', size: index.length })
  t.same(await registry.putManifest(plain, 'empty', index, OCI_INDEX, 'admin'), { digest: d(index), subject: null, outcome: 'unchanged', size: index.length }, 'the same again')
  t.equal((await registry.putManifest(plain, d(index), index, OCI_INDEX, 'admin')).outcome, 'unchanged', 'by digest, known')
})
