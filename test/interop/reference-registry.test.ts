// The CNCF reference registry (distribution 2.8, `docker-registry`) and Packyard exchange
// images through skopeo: layout → reference registry → Packyard → reference registry (another
// repository), with the index and every platform manifest keeping its digest at every hop.

import t from 'tap'
import { join } from 'node:path'
import { tempDir } from '../helpers.js'
import { layoutDigest, sha256, skopeo, startPackyard, startReferenceRegistry, writeLayout } from './helpers.js'

t.test('docker-registry → Packyard → docker-registry keeps every digest', async (t) => {
  const layout = await writeLayout(join(tempDir(t), 'layout'))
  const reference = await startReferenceRegistry(t)
  const packyard = await startPackyard(t)
  const plain = ['--src-tls-verify=false', '--dest-tls-verify=false']
  const origin = `docker://${reference.host}/origin/images`
  const mirror = `docker://${packyard.host}/mirror/images`
  const back = `docker://${reference.host}/back/images`

  const rawDigest = async (ref: string, creds: string[] = []) => sha256((await skopeo(['inspect', '--raw', '--tls-verify=false', ...creds, ref])).stdout)
  const packyardCreds = ['--creds', packyard.creds]

  for (const tag of ['single', 'multi']) {
    await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout.dir}:${tag}`, `${origin}:${tag}`])
    await skopeo(['copy', '--all', '--preserve-digests', ...plain, '--dest-creds', packyard.creds, `${origin}:${tag}`, `${mirror}:${tag}`])
    await skopeo(['copy', '--all', '--preserve-digests', ...plain, '--src-creds', packyard.creds, `${mirror}:${tag}`, `${back}:${tag}`])
  }

  const expected = { single: layout.single.digest, multi: layout.multi.digest }
  for (const [tag, digest] of Object.entries(expected)) {
    t.equal(await rawDigest(`${origin}:${tag}`), digest, `${tag}: the reference registry holds the layout's digest`)
    t.equal(await rawDigest(`${mirror}:${tag}`, packyardCreds), digest, `${tag}: Packyard holds the same digest`)
    t.equal(await rawDigest(`${back}:${tag}`), digest, `${tag}: and so does the copy back`)
  }
  for (const child of layout.multi.children) {
    t.equal(await rawDigest(`${mirror}@${child}`, packyardCreds), child, `platform manifest ${child.slice(0, 19)} in Packyard`)
    t.equal(await rawDigest(`${back}@${child}`), child, `platform manifest ${child.slice(0, 19)} back in the reference registry`)
  }

  // And the bytes: pulled from the far end, the layout is what was written.
  const out = join(tempDir(t), 'out')
  await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `${back}:multi`, `oci:${out}:multi`])
  t.equal(layoutDigest(out, 'multi'), layout.multi.digest)
  const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', ...packyardCreds, mirror])).stdout) as { Tags: string[] }
  t.same(tags.Tags.sort(), ['multi', 'single'])
  t.same(packyard.serverErrors(), [], 'no request got a 5xx')
})
