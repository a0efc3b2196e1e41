// Notifications from a real OCI client: skopeo copies a pack into spectro-packs/archive,
// inspects it (a manifest GET: a pull event) and deletes it; the receiver gets push (with the
// pack object), pull and delete, in distribution's envelope.

import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { DistributionEvent } from '../../src/notifications/events.js'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { tempDir } from '../helpers.js'
import { archive, packFiles } from '../pack-fixtures.js'
import { sha256, skopeo, startPackyard, writePackLayout } from './helpers.js'

t.test('skopeo push, inspect and delete of a pack: push (with the pack object), pull and delete events', async (t) => {
  const events: DistributionEvent[] = []
  const types: string[] = []
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      types.push(String(req.headers['content-type']))
      events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: DistributionEvent[] }).events)
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)))
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`
  const registry = await startPackyard(t, { REGISTRY_NOTIFICATIONS_ENDPOINTS: `[{name: ci, url: "${hook}"}]` })

  const dir = tempDir(t, 'pack-layout-')
  const tgz = await archive(packFiles({ name: 'hellouniverse', version: '1.2.3' }), 'hellouniverse-1.2.3')
  const manifest = packManifest({ digest: sha256(tgz), size: tgz.length }, 'hellouniverse-1.2.3.tar.gz')
  writePackLayout(join(dir, 'in'), '1.2.3', [EMPTY_CONFIG, tgz], manifest.content)
  const ref = `docker://${registry.host}/spectro-packs/archive/hellouniverse`
  await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', registry.creds, `oci:${join(dir, 'in')}:1.2.3`, `${ref}:1.2.3`])
  await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', registry.creds, `${ref}:1.2.3`])
  await skopeo(['delete', '--tls-verify=false', '--creds', registry.creds, `${ref}@${manifest.digest}`])

  const until = Date.now() + 10_000
  // Wait for each kind, not a count: skopeo may read the manifest more than once (more pulls),
  // and pulls are written in batches, so they may arrive after the delete.
  const arrived = () => ['push', 'pull', 'delete'].every((action) => events.some((e) => e.action === action))
  while (!arrived() && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.ok(types.every((type) => type === 'application/vnd.docker.distribution.events.v1+json'))
  const byAction = (action: string) => events.find((e) => e.action === action)
  const repository = 'spectro-packs/archive/hellouniverse'
  t.match(byAction('push'), {
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.content.length, repository, tag: '1.2.3' },
    request: { method: 'PUT', useragent: /skopeo/i },
    actor: { name: 'admin' },
    pack: { name: 'hellouniverse', version: '1.2.3', tag: '1.2.3', forced: false },
  })
  t.match(byAction('pull'), { target: { digest: manifest.digest, repository, tag: '1.2.3' }, request: { method: 'GET' } })
  t.match(byAction('delete'), { target: { digest: manifest.digest, repository }, request: { method: 'DELETE' }, pack: { name: 'hellouniverse', version: '1.2.3' } })
  t.same(registry.serverErrors(), [])
})
