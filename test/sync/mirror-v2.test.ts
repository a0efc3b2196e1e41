// packyard sync against the CNCF reference registry (docker-registry) holding packs in the ORAS 1.0
// shape (config application/vnd.unknown.config.v1+json, one tar.gz layer) under a basepath, as
// Palette's OCI mode lays them out (api: v2): the packs become packs here with the upstream's
// digests and parent tags computed here; an artifact that is no pack is reported, not stored.

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { sha256Digest as sha } from '../../src/store/digest.js'
import { runCliHere, tempDir, testApp } from '../helpers.js'
import { startReferenceRegistry } from '../interop/helpers.js'
import { archive, get, packFiles } from '../pack-fixtures.js'

const OCI = 'application/vnd.oci.image.manifest.v1+json'

/** What `oras push HOST/REPO:TAG NAME-VERSION.tar.gz` does, with the distribution API's monolithic upload. */
async function orasPush(host: string, repo: string, tag: string, layer: Buffer, fileName: string): Promise<string> {
  for (const blob of [EMPTY_CONFIG, layer]) {
    const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' })
    if (start.status !== 202) throw new Error(`upload start: ${start.status}`)
    const location = new URL(start.headers.get('location') as string, `http://${host}`)
    location.searchParams.set('digest', sha(blob))
    const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } })
    if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`)
  }
  const manifest = packManifest({ digest: sha(layer), size: layer.length }, fileName)
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest.content, headers: { 'content-type': OCI } })
  if (res.status !== 201) throw new Error(`manifest: ${res.status} ${await res.text()}`)
  return res.headers.get('docker-content-digest') as string
}

t.test('sync copies packs from an OCI registry under a basepath', async (t) => {
  const { host } = await startReferenceRegistry(t)
  const base = 'production/spectro-packs/archive'
  const pushed: Record<string, string> = {}
  for (const version of ['1.27.4', '1.28.2', '1.28.3']) {
    pushed[version] = await orasPush(host, `${base}/kubernetes`, version, await archive(packFiles({ name: 'kubernetes', version }), `kubernetes-${version}`), `kubernetes-${version}.tar.gz`)
  }
  // Another repository name outside the basepath, and a tag holding no pack.
  await orasPush(host, 'elsewhere/spectro-packs/archive/kubernetes', '9.9.9', await archive(packFiles({ name: 'kubernetes', version: '9.9.9' })), 'kubernetes-9.9.9.tar.gz')
  await orasPush(host, `${base}/notapack`, '1.0.0', Buffer.from('not a tar'), 'notapack-1.0.0.tar.gz')

  const dir = tempDir(t)
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    log: { level: 'silent' },
    sync: { registries: [{ url: `http://${host}`, api: 'v2', basepath: 'production', content: [{ packs: ['kubernetes'], versions: '>=1.28.0' }, { packs: ['notapack'] }] }] },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))
  const here = await testApp(t, doc, { auth: false })

  const run = await runCliHere(['sync', file, '--once'])
  t.equal(run.code, 0, run.stdout + run.stderr)
  t.match(run.stdout, `http://${host}/production: copied 2 packs (`)
  t.match(run.stdout, /refused +notapack:1\.0\.0 +the upstream tag holds no pack/)
  for (const version of ['1.28.2', '1.28.3']) {
    const res = await here.inject({ method: 'GET', url: `/v2/spectro-packs/archive/kubernetes/manifests/${version}`, headers: { accept: OCI } })
    t.equal(res.headers['docker-content-digest'], pushed[version], `kubernetes:${version} keeps the upstream's digest`)
  }
  const parent = await here.inject({ method: 'GET', url: '/v2/spectro-packs/archive/kubernetes/manifests/1.28.x', headers: { accept: OCI } })
  t.equal(parent.headers['docker-content-digest'], pushed['1.28.3'], 'parent tags computed here')
  t.equal((await get(here, '/v1/_packs/kubernetes/1.27.4')).statusCode, 404, 'outside the range')
  t.equal((await get(here, '/v1/_packs/kubernetes/9.9.9')).statusCode, 404, 'outside the basepath')
  t.equal((await get(here, '/v1/_packs/notapack')).statusCode, 404, 'no pack, not stored')
  const pull = await get(here, '/v1/_packs/kubernetes/1.28.2/archive')
  t.equal(pull.statusCode, 200, 'a pack here: pulled over /v1')

  const again = await runCliHere(['sync', file, '--once'])
  t.match(again.stdout, /copied 0 packs \(0 blobs, 0 B\), 2 unchanged/)
})

t.test("distribution's proxy.remoteurl: packs pulled through from an OCI registry", async (t) => {
  const { host } = await startReferenceRegistry(t)
  const digest = await orasPush(host, 'spectro-packs/archive/kubernetes', '1.29.0', await archive(packFiles({ name: 'kubernetes', version: '1.29.0' }), 'kubernetes-1.29.0'), 'kubernetes-1.29.0.tar.gz')
  const here = await testApp(t, { proxy: { remoteurl: `http://${host}` } }, { auth: false })
  const pulled = await here.inject({ method: 'GET', url: '/v2/spectro-packs/archive/kubernetes/manifests/1.29.0', headers: { accept: OCI } })
  t.equal(pulled.statusCode, 200, pulled.body)
  t.equal(pulled.headers['docker-content-digest'], digest, "the upstream's digest")
  t.equal((await get(here, '/v1/_packs/kubernetes/1.29.0/archive')).statusCode, 200, 'and a pack here, over /v1 too')
  t.equal((await get(here, '/v1/_packs/kubernetes/1.30.0')).statusCode, 404, 'what the upstream does not have either')
})
