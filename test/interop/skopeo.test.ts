// skopeo against a running Packyard over HTTP with credentials: copy an OCI layout in (an
// image and an index with --all), inspect, list tags, copy back out, delete; the digests and
// the bytes are the same at every hop.

import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers.js'
import { layoutDigest, OCI_INDEX, OCI_MANIFEST, sha256, skopeo, startPackyard, writeLayout } from './helpers.js'

t.test('skopeo copy, inspect, list-tags, copy out and delete against Packyard', async (t) => {
  const layout = await writeLayout(join(tempDir(t), 'layout'))
  const packyard = await startPackyard(t)
  const repo = `docker://${packyard.host}/some/repo`
  const dest = ['--dest-creds', packyard.creds, '--dest-tls-verify=false']
  const src = ['--src-creds', packyard.creds, '--src-tls-verify=false']
  const creds = ['--creds', packyard.creds, '--tls-verify=false']

  await skopeo(['copy', '--preserve-digests', ...dest, `oci:${layout.dir}:single`, `${repo}:single`])
  await skopeo(['copy', '--all', '--preserve-digests', ...dest, `oci:${layout.dir}:multi`, `${repo}:multi`])

  // What Packyard serves is byte for byte what the layout holds.
  const rawSingle = await skopeo(['inspect', '--raw', ...creds, `${repo}:single`])
  t.equal(sha256(rawSingle.stdout), layout.single.digest, 'inspect --raw: the image manifest digest is unchanged')
  t.equal(rawSingle.stdout, layout.single.manifest.toString())
  const rawMulti = await skopeo(['inspect', '--raw', ...creds, `${repo}:multi`])
  t.equal(sha256(rawMulti.stdout), layout.multi.digest, 'inspect --raw: the index digest is unchanged')
  for (const child of layout.multi.children) {
    const raw = await skopeo(['inspect', '--raw', ...creds, `${repo}@${child}`])
    t.equal(sha256(raw.stdout), child, `platform manifest ${child.slice(0, 19)} by digest`)
  }
  const inspected = JSON.parse((await skopeo(['inspect', ...creds, `${repo}:single`])).stdout) as { Digest: string; Layers: string[]; Architecture: string }
  t.equal(inspected.Digest, layout.single.digest)
  t.equal(inspected.Layers.length, 3)
  t.equal(inspected.Architecture, 'amd64', 'skopeo read the config blob')

  const manifests = new Set([layout.single.digest, layout.multi.digest, ...layout.multi.children])
  for (const [digest, data] of layout.blobs) {
    if (manifests.has(digest)) continue
    const res = await fetch(`${packyard.url}/v2/some/repo/blobs/${digest}`, { headers: { authorization: packyard.authorization } })
    t.same(Buffer.from(await res.arrayBuffer()), data, `config/layer ${digest.slice(0, 19)} is byte-identical over /v2`)
  }
  const viaHttp = await fetch(`${packyard.url}/v2/some/repo/manifests/multi`, { headers: { authorization: packyard.authorization, accept: `${OCI_INDEX}, ${OCI_MANIFEST}` } })
  t.equal(viaHttp.headers.get('docker-content-digest'), layout.multi.digest)

  // A second repository: skopeo mounts the layers it knows are in some/repo (POST ?mount= → 201).
  await skopeo(['copy', '--preserve-digests', ...dest, `oci:${layout.dir}:single`, `docker://${packyard.host}/some/other:single`])
  t.ok(packyard.requests().includes('POST /v2/some/other/blobs/uploads/ 201'), 'layers were mounted across repositories')
  t.equal(sha256((await skopeo(['inspect', '--raw', ...creds, `docker://${packyard.host}/some/other:single`])).stdout), layout.single.digest)

  const tags = JSON.parse((await skopeo(['list-tags', ...creds, repo])).stdout) as { Tags: string[] }
  t.same(tags.Tags.sort(), ['multi', 'single'])

  // Out again: an OCI layout (with --all) and a dir, both identical to the source.
  const out = join(tempDir(t), 'out')
  await skopeo(['copy', '--all', '--preserve-digests', ...src, `${repo}:multi`, `oci:${out}:multi`])
  t.equal(layoutDigest(out, 'multi'), layout.multi.digest, 'copied out: the same index digest')
  const outBlobs = readdirSync(join(out, 'blobs', 'sha256'))
  t.equal(outBlobs.length, 9, 'the index, two manifests, two configs and four layers')
  for (const hex of outBlobs) {
    const bytes = readFileSync(join(out, 'blobs', 'sha256', hex))
    t.same(bytes, layout.blobs.get(`sha256:${hex}`), `blob ${hex.slice(0, 12)} is byte-identical`)
  }
  const dirOut = join(tempDir(t), 'dir')
  await skopeo(['copy', '--preserve-digests', ...src, `${repo}:single`, `dir:${dirOut}`])
  t.same(readFileSync(join(dirOut, 'manifest.json')), layout.single.manifest)
  const manifest = JSON.parse(layout.single.manifest.toString()) as { layers: Array<{ digest: string }> }
  for (const layer of manifest.layers) t.same(readFileSync(join(dirOut, layer.digest.slice(7))), layout.blobs.get(layer.digest))

  // skopeo delete resolves the tag and deletes the manifest by digest.
  await skopeo(['delete', ...creds, `${repo}:single`])
  const after = JSON.parse((await skopeo(['list-tags', ...creds, repo])).stdout) as { Tags: string[] }
  t.same(after.Tags, ['multi'])
  const gone = await skopeo(['inspect', '--raw', ...creds, `${repo}@${layout.single.digest}`], { allowFailure: true })
  t.not(gone.code, 0, 'the deleted manifest is gone')
  t.match(gone.stderr, /manifest unknown|not found/i)

  const denied = await skopeo(['copy', '--dest-creds', 'admin:wrong', '--dest-tls-verify=false', `oci:${layout.dir}:single`, `${repo}:again`], { allowFailure: true })
  t.not(denied.code, 0, 'bad credentials are refused')
  t.match(denied.stderr, /unauthorized|authentication required/i)
  t.same(packyard.serverErrors(), [], 'no request got a 5xx')
})
