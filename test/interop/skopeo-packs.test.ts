// A pack through a real OCI client: an OCI layout holding a pack the way `oras push` lays it
// out (empty config, one NAME-VERSION.tar.gz layer) is copied by skopeo into
// spectro-packs/archive/<name>:<version>, shows up on /v1 with its parent tags, is inspected,
// listed, copied back out byte-identical, and deleted (and gone from /v1 too).

import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { tempDir } from '../helpers.js'
import { archive, packFiles } from '../pack-fixtures.js'
import { layoutDigest, sha256, skopeo, startPackyard, writePackLayout } from './helpers.js'

t.test('skopeo copies a pack into spectro-packs/archive and back out', async (t) => {
  const registry = await startPackyard(t)
  const dir = tempDir(t, 'pack-layout-')
  const tgz = await archive(packFiles({ name: 'hellouniverse', version: '1.2.3' }, { 'README.md': '# Hello\n' }), 'hellouniverse-1.2.3')
  const manifest = packManifest({ digest: sha256(tgz), size: tgz.length }, 'hellouniverse-1.2.3.tar.gz')
  writePackLayout(join(dir, 'in'), '1.2.3', [EMPTY_CONFIG, tgz], manifest.content)

  const ref = `docker://${registry.host}/spectro-packs/archive/hellouniverse`
  const tls = ['--dest-tls-verify=false', '--dest-creds', registry.creds]
  await skopeo(['copy', '--preserve-digests', ...tls, `oci:${join(dir, 'in')}:1.2.3`, `${ref}:1.2.3`])

  const v1 = await fetch(`${registry.url}/v1/_packs/hellouniverse/1.x`, { headers: { authorization: registry.authorization } })
  t.equal(v1.status, 200)
  const version = (await v1.json()) as { version: string; digest: string; manifestDigest: string; tags: Array<{ tag: string }> }
  t.equal(version.version, '1.2.3')
  t.equal(version.digest, sha256(tgz))
  t.equal(version.manifestDigest, manifest.digest, 'the manifest skopeo pushed is the one stored')
  t.same(version.tags.map((x) => x.tag).sort(), ['1.2.3', '1.2.x', '1.x'])

  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', registry.creds, `${ref}:1.2.3`])
  t.equal(sha256(Buffer.from(raw.stdout)), manifest.digest)
  const viaParent = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', registry.creds, `${ref}:1.x`])
  t.equal(viaParent.stdout, raw.stdout, 'parent tags resolve on /v2')
  const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', '--creds', registry.creds, ref])).stdout) as { Tags: string[] }
  t.same(tags.Tags, ['1.2.3'], 'parent tags are not listed')

  await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--src-creds', registry.creds, `${ref}:1.2.3`, `oci:${join(dir, 'out')}:1.2.3`])
  t.equal(layoutDigest(join(dir, 'out'), '1.2.3'), manifest.digest)
  t.same(readFileSync(join(dir, 'out', 'blobs', 'sha256', sha256(tgz).slice(7))), tgz, 'the pulled layer is byte-identical')

  await skopeo(['delete', '--tls-verify=false', '--creds', registry.creds, `${ref}@${manifest.digest}`])
  const gone = await fetch(`${registry.url}/v1/_packs/hellouniverse`, { headers: { authorization: registry.authorization } })
  t.equal(gone.status, 404, 'deleted on /v2, gone from /v1')
  t.same(registry.serverErrors(), [])
})

t.test('skopeo pushing a broken pack into the namespace gets the pack error', async (t) => {
  const registry = await startPackyard(t)
  const dir = tempDir(t, 'pack-layout-')
  // A version that cannot be a tag: an error (an unknown layer would only be a warning).
  const tgz = await archive(packFiles({ name: 'broken', version: '1.0.0+build' }))
  const manifest = packManifest({ digest: sha256(tgz), size: tgz.length }, 'broken-1.0.0.tar.gz')
  writePackLayout(dir, '1.0.0', [EMPTY_CONFIG, tgz], manifest.content)
  const run = await skopeo(
    ['copy', '--dest-tls-verify=false', '--dest-creds', registry.creds, `oci:${dir}:1.0.0`, `docker://${registry.host}/spectro-packs/archive/broken:1.0.0`],
    { allowFailure: true },
  )
  t.not(run.code, 0)
  t.match(run.stderr, /manifest invalid|MANIFEST_INVALID/i)
  t.match(run.stderr, /version/)
  const catalog = await fetch(`${registry.url}/v1/_catalog`, { headers: { authorization: registry.authorization } })
  t.same(await catalog.json(), { repositories: [] })
  t.same(registry.serverErrors(), [])
})
