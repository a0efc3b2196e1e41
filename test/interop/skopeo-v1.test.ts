// A real distribution client against /v1, the root spectro-registry serves its API under. Real
// clients hard-code /v2, so a small proxy in front of Packyard forwards /v2/... as /v1/... and
// rewrites Location back, as a client built for spectro-registry would talk. skopeo copies an
// ORAS-1.0-shaped pack and a multi-layer image in; the pack shows on /v1/_packs with its parent
// tags, the image's version tag gets parent tags too and reads back byte for byte through one,
// parent tags cannot be deleted, deleting a version re-links them, and the catalog lists both.

import t, { type Test } from 'tap'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { tempDir } from '../helpers.js'
import { archive, packFiles } from '../pack-fixtures.js'
import { layoutDigest, sha256, skopeo, startPackyard, writeLayout, writePackLayout } from './helpers.js'

/** Forwards /v2/... to `target` as /v1/..., and /v1 in Location headers back to /v2. */
async function v1Proxy(t: Test, target: string): Promise<string> {
  const upstream = new URL(target)
  const proxy = createServer((req, res) => {
    const path = (req.url ?? '/').replace(/^\/v2(\/|$)/, '/v1$1')
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers }
      if (typeof headers.location === 'string') headers.location = headers.location.replace(/^\/v1\//, '/v2/')
      res.writeHead(answer.statusCode ?? 502, headers)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
  return `127.0.0.1:${(proxy.address() as AddressInfo).port}`
}

t.test('skopeo against /v1 through a path-rewriting proxy', async (t) => {
  const registry = await startPackyard(t)
  const proxy = await v1Proxy(t, registry.url)
  const dir = tempDir(t, 'v1-layouts-')
  const dest = ['--dest-tls-verify=false', '--dest-creds', registry.creds]
  const src = ['--src-tls-verify=false', '--src-creds', registry.creds]
  const auth = { authorization: registry.authorization }

  // Two versions of a pack, as `oras push` (1.0) lays them out.
  for (const version of ['1.0.0', '1.1.0']) {
    const tgz = await archive(packFiles({ name: 'hellopack', version }), `hellopack-${version}`)
    const manifest = packManifest({ digest: sha256(tgz), size: tgz.length }, `hellopack-${version}.tar.gz`)
    writePackLayout(join(dir, version), version, [EMPTY_CONFIG, tgz], manifest.content)
    await skopeo(['copy', '--preserve-digests', ...dest, `oci:${join(dir, version)}:${version}`, `docker://${proxy}/hellopack:${version}`])
  }
  const pack = (await (await fetch(`${registry.url}/v1/_packs/hellopack`, { headers: auth })).json()) as { tags: Array<{ tag: string; kind: string; parentTags: string[] }> }
  t.same(
    pack.tags.map((x) => [x.tag, x.kind]),
    [['1.0.0', 'version'], ['1.0.x', 'parent'], ['1.1.0', 'version'], ['1.1.x', 'parent'], ['1.x', 'parent']],
    'a pack on /v1/_packs, with its parent tags',
  )

  // A multi-layer image is no pack: an artifact, kept byte for byte; parent tags only ever point
  // at pack versions, so its version-named tag gets none.
  const layout = await writeLayout(join(dir, 'image'))
  await skopeo(['copy', '--preserve-digests', ...dest, `oci:${layout.dir}:single`, `docker://${proxy}/opaque:2.1.0`])
  const raw = await skopeo(['inspect', '--raw', ...src.map((a) => a.replace('src-', '')), `docker://${proxy}/opaque:2.1.0`])
  t.same(Buffer.from(raw.stdout), layout.single.manifest, 'read back byte for byte')
  t.equal(sha256(raw.stdout), layoutDigest(layout.dir, 'single'), 'same manifest digest')
  const copiedBack = join(dir, 'back')
  await skopeo(['copy', '--preserve-digests', ...src, `docker://${proxy}/opaque:2.1.0`, `oci:${copiedBack}:back`])
  t.equal(layoutDigest(copiedBack, 'back'), layout.single.digest)
  const opaque = (await (await fetch(`${registry.url}/v1/_packs/opaque`, { headers: auth })).json()) as { tags: Array<{ tag: string; kind: string }> }
  t.same(opaque.tags.map((x) => [x.tag, x.kind]), [['2.1.0', 'artifact']])
  const noParent = await skopeo(['inspect', '--raw', ...src.map((a) => a.replace('src-', '')), `docker://${proxy}/opaque:2.x`], { allowFailure: true })
  t.not(noParent.code, 0, 'there is no 2.x to read it through')

  // Parent tags cannot be deleted; deleting a version by digest re-links them.
  // (skopeo itself deletes by the digest a tag resolves to; the DELETE by tag is the client's call.)
  const refused = await fetch(`http://${proxy}/v2/hellopack/manifests/1.x`, { method: 'DELETE', headers: auth })
  t.equal(refused.status, 403)
  t.match(await refused.json(), { errors: [{ code: 'DENIED', message: /1\.x is a parent tag/ }] })
  const newest = await fetch(`${registry.url}/v1/hellopack/manifests/1.1.0`, { method: 'HEAD', headers: auth })
  await skopeo(['delete', '--tls-verify=false', '--creds', registry.creds, `docker://${proxy}/hellopack@${newest.headers.get('docker-content-digest')}`])
  const relinked = (await (await fetch(`${registry.url}/v1/_packs/hellopack/1.x`, { headers: auth })).json()) as { version: string }
  t.equal(relinked.version, '1.0.0', '1.x re-linked to what remains')

  const catalog = await fetch(`${registry.url}/v1/_catalog`, { headers: auth })
  t.same(await catalog.json(), { repositories: ['hellopack', 'opaque'] })
  t.same(registry.serverErrors(), [])
})
