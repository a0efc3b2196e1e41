// Packs visible both ways: a /v1 push is an ORAS-shaped artifact on /v2 under oci.namespace,
// and an ORAS-style push there is validated and becomes a pack on /v1 with the same tags,
// groups and parent tags. Deletes on either side are seen on the other.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { Transform } from 'node:stream'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { sha256Digest as sha } from '../../src/store/digest.js'
import { ADMIN, listeningApp, READER, testApp } from '../helpers.js'
import { archive, get, orasPush, packFiles, pushPack, uploadBlob } from '../pack-fixtures.js'
import { handArchive, zerosBomb } from '../tar-fixtures.js'

const NS = 'spectro-packs/archive'
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json'

t.test('a /v1 push is readable on /v2 as the ORAS artifact, parent tags resolve but are not listed', async (t) => {
  const app = await testApp(t)
  const tgz = await archive(packFiles())
  const pushed = await pushPack(app, {})
  const list = await get(app, `/v2/${NS}/hellouniverse/tags/list`)
  t.same(list.json(), { name: `${NS}/hellouniverse`, tags: ['1.0.0'] })
  const catalog = await get(app, '/v2/_catalog')
  t.same(catalog.json(), { repositories: [`${NS}/hellouniverse`] })
  for (const ref of ['1.0.0', '1.0.x', '1.x', pushed.manifestDigest]) {
    const res = await app.inject({ url: `/v2/${NS}/hellouniverse/manifests/${ref}`, headers: { authorization: ADMIN, accept: MANIFEST_TYPE } })
    t.equal(res.statusCode, 200, ref)
    t.equal(res.headers['docker-content-digest'], pushed.manifestDigest, ref)
    t.match(res.json(), { layers: [{ digest: pushed.digest, annotations: { 'org.opencontainers.image.title': 'hellouniverse-1.0.0.tar.gz' } }] })
  }
  const layer = await get(app, `/v2/${NS}/hellouniverse/blobs/${pushed.digest}`)
  t.equal(layer.statusCode, 200)
  t.same(layer.rawPayload, tgz)
  const config = await get(app, `/v2/${NS}/hellouniverse/blobs/${sha(EMPTY_CONFIG)}`)
  t.equal(config.body, '{}')

  const listing = await testApp(t, { oci: { listparenttags: true } })
  await pushPack(listing, {})
  t.same((await get(listing, `/v2/${NS}/hellouniverse/tags/list`)).json().tags, ['1.0.0', '1.0.x', '1.x'], 'listed when configured')
})

t.test('an ORAS-style push under the namespace becomes a pack on /v1, with groups and parent tags', async (t) => {
  const app = await testApp(t)
  const tgz = await archive(packFiles({ name: 'ubuntu', version: '22.04', group: 'LTS', layer: 'os' }), 'ubuntu-22.04')
  const res = await orasPush(app, `${NS}/ubuntu`, '22.04', tgz, 'ubuntu-22.04.tar.gz')
  t.equal(res.statusCode, 201, res.body)
  const manifestDigest = res.headers['docker-content-digest'] as string
  const pack = (await get(app, '/v1/_packs/ubuntu')).json()
  const tags = Object.fromEntries((pack.tags as Array<{ tag: string; kind: string }>).map((x) => [x.tag, x.kind]))
  t.same(tags, { '22.04': 'version', '22.4.x': 'parent', '22.x': 'parent', 'LTS__22.04': 'version', 'LTS__22.4.x': 'parent', 'LTS__22.x': 'parent' })
  t.equal(pack.layer, 'os')
  const version = (await get(app, '/v1/_packs/ubuntu/LTS__22.4.x')).json()
  t.equal(version.manifestDigest, manifestDigest, 'the client manifest bytes are what is stored')
  t.equal(version.digest, sha(tgz))
  t.equal(version.history[0].actor, 'admin')
  const pulled = await get(app, '/v1/_packs/ubuntu/LTS__22.04/archive')
  t.same(pulled.rawPayload, tgz)

  const again = await orasPush(app, `${NS}/ubuntu`, '22.04', tgz, 'ubuntu-22.04.tar.gz')
  t.equal(again.statusCode, 201)
  t.equal((await get(app, '/v1/_packs/ubuntu/LTS__22.04')).json().history.length, 1, 'an identical copy is not a new event')

  // Push by digest: only the version tag.
  const v2 = await archive(packFiles({ name: 'ubuntu', version: '22.04.1', group: 'LTS', layer: 'os' }))
  const m = packManifest({ digest: sha(v2), size: v2.length }, 'ubuntu-22.04.1.tar.gz')
  await uploadBlob(app, `${NS}/ubuntu`, v2)
  const byDigest = await app.inject({ method: 'PUT', url: `/v2/${NS}/ubuntu/manifests/${m.digest}`, payload: m.content, headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE } })
  t.equal(byDigest.statusCode, 201)
  const after = (await get(app, '/v1/_packs/ubuntu/LTS__22.4.x')).json()
  t.equal(after.version, '22.04.1', 'LTS__22.4.x moved to the new version')
})

t.test('into a pack repository: a broken pack is MANIFEST_INVALID; a pack with warnings and anything else are accepted', async (t) => {
  const app = await testApp(t)
  const refused: Array<[string, Buffer, string, string, Record<string, unknown>]> = [
    ['a version that cannot be a tag', await archive(packFiles({ version: '1.0.0+build' })), 'hellouniverse', '1.0.0', { code: 'PACK_INVALID', field: 'version' }],
    [
      'an unsafe archive entry',
      await handArchive([{ name: 'pack.json', content: packFiles()['pack.json'] as string }, { name: 'evil', type: 'symlink', linkname: '/etc/passwd' }]),
      'hellouniverse',
      '1.0.0',
      { code: 'ARCHIVE_INVALID' },
    ],
    ['wrong repository', await archive(packFiles()), 'otherpack', '1.0.0', { pack: 'hellouniverse' }],
    ['a version tag that is not the pack\'s', await archive(packFiles()), 'hellouniverse', '2.0.0', { versionTag: '1.0.0' }],
  ]
  for (const [what, tgz, name, ref, detail] of refused) {
    const res = await orasPush(app, `${NS}/${name}`, ref, tgz, 'x.tar.gz')
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().errors[0].code, 'MANIFEST_INVALID', what)
    t.match(res.json().errors[0].detail, detail, what)
  }
  t.same((await get(app, '/v1/_catalog')).json(), { repositories: [] }, 'nothing was recorded')

  const warned = await orasPush(app, `${NS}/warned`, '1.0.0', await archive(packFiles({ name: 'warned', layer: 'gui' })), 'warned-1.0.0.tar.gz')
  t.equal(warned.statusCode, 201, 'an unknown layer is a warning, as the stock registry serves such packs')
  t.match((await get(app, '/v1/_packs/warned/1.0.0')).json().warnings, [{ field: 'layer' }])

  const bytes = await orasPush(app, `${NS}/opaque`, '3.1.0', Buffer.from('just bytes'), 'notes.tar.gz')
  t.equal(bytes.statusCode, 201, 'a layer that is no pack makes an artifact')
  const opaque = (await get(app, '/v1/_packs/opaque')).json()
  t.same(opaque.tags.map((x: { tag: string; kind: string }) => [x.tag, x.kind]), [['3.1.0', 'artifact']], 'parent tags only ever point at pack versions, so a version-named artifact gets none')
  t.same(opaque.versions, [])
  const asVersion = await get(app, '/v1/_packs/opaque/3.1.0')
  t.equal(asVersion.statusCode, 404, 'an artifact is no pack version')
  t.match(asVersion.json().errors[0].message, /is an artifact .* read it at \/v1\/opaque\/manifests\/3\.1\.0/)

  const parent = await orasPush(app, `${NS}/hellouniverse`, '1.x', await archive(packFiles()), 'hellouniverse-1.0.0.tar.gz')
  t.equal(parent.statusCode, 403, 'a parent tag cannot be pushed to')
  t.equal(parent.json().errors[0].code, 'DENIED')
  t.match(parent.json().errors[0].message, /1\.x is a parent tag managed by the registry/)
  const missing = await app.inject({
    method: 'PUT',
    url: `/v2/${NS}/fresh/manifests/1.0.0`,
    payload: packManifest({ digest: sha(Buffer.from('never uploaded')), size: 14 }, 'fresh-1.0.0.tar.gz').content,
    headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE },
  })
  t.equal(missing.json().errors[0].code, 'MANIFEST_BLOB_UNKNOWN')
  const reader = await orasPush(app, `${NS}/hellouniverse`, '1.0.0', await archive(packFiles()), 'hellouniverse-1.0.0.tar.gz', READER)
  t.equal(reader.statusCode, 403)
})

/** What signing and SBOM tools push: a manifest with one application/octet-stream layer, no subject. */
async function artifactManifest(app: Awaited<ReturnType<typeof testApp>>, repo: string, bytes: string, subject?: { digest: string; size: number }) {
  const layer = Buffer.from(bytes)
  for (const blob of [EMPTY_CONFIG, layer]) await uploadBlob(app, repo, blob)
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: 'application/vnd.example.signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(EMPTY_CONFIG), size: EMPTY_CONFIG.length },
      layers: [{ mediaType: 'application/octet-stream', digest: sha(layer), size: layer.length }],
      ...(subject ? { subject: { mediaType: MANIFEST_TYPE, ...subject } } : {}),
    }),
  )
}

t.test('a tag that holds a pack version is the pack\'s: an artifact cannot take it on either surface', async (t) => {
  const app = await testApp(t)
  const pushed = await pushPack(app, { name: 'ovw1', version: '1.0.0' })
  await app.inject({ method: 'PUT', url: '/v1/_packs/ovw1/_tags/stable', payload: { ref: '1.0.0' }, headers: { authorization: ADMIN } })
  for (const [surface, repo] of [['/v2', `${NS}/ovw1`], ['/v1', 'ovw1']] as const) {
    const prefix = surface === '/v2' ? '/v2' : '/v1'
    const path = surface === '/v2' ? `/v2/${repo}` : `/v1/${repo}`
    const manifest = await artifactManifest(app, surface === '/v2' ? repo : `${NS}/${repo}`, `signature for ${surface}`)
    for (const tag of ['1.0.0', 'stable']) {
      const res = await app.inject({ method: 'PUT', url: `${path}/manifests/${tag}`, payload: manifest, headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE } })
      t.equal(res.statusCode, 403, `${prefix} ${tag}`)
      t.equal(res.json().errors[0].code, 'DENIED')
      t.match(res.json().errors[0].message, /version 1\.0\.0 of pack ovw1; only a pack can replace it .* as referrers/, `${prefix} ${tag}: names the pack and what to do`)
    }
  }
  const version = (await get(app, '/v1/_packs/ovw1/1.0.0')).json()
  t.equal(version.digest, pushed.digest, 'the version is still there')
  for (const ref of ['1.x', '1.0.x', 'stable']) {
    t.equal((await get(app, `/v2/${NS}/ovw1/manifests/${ref}`)).headers['docker-content-digest'], pushed.manifestDigest, `${ref} still serves the pack`)
  }
  t.same((await get(app, '/v1/_packs/ovw1')).json().tags.map((x: { tag: string }) => x.tag), ['1.0.0', '1.0.x', '1.x', 'stable'])

  // What signing tools should do instead: a referrer of the version, by digest; or a tag of its own.
  const signature = await artifactManifest(app, `${NS}/ovw1`, 'a real signature', { digest: pushed.manifestDigest, size: (await get(app, `/v2/${NS}/ovw1/manifests/1.0.0`)).rawPayload.length })
  const byDigest = await app.inject({ method: 'PUT', url: `/v2/${NS}/ovw1/manifests/${sha(signature)}`, payload: signature, headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE } })
  t.equal(byDigest.statusCode, 201, byDigest.body)
  const ownTag = await app.inject({ method: 'PUT', url: `/v2/${NS}/ovw1/manifests/sig-1.0.0`, payload: signature, headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE } })
  t.equal(ownTag.statusCode, 201, ownTag.body)
  const referrers = (await get(app, `/v2/${NS}/ovw1/referrers/${pushed.manifestDigest}`)).json()
  t.equal(referrers.manifests.length, 1)

  // Another pack may still replace the version (a forced update, as a distribution push is).
  const next = await archive(packFiles({ name: 'ovw1', version: '1.0.0', description: 'rebuilt' }))
  const replaced = await orasPush(app, `${NS}/ovw1`, '1.0.0', next, 'ovw1-1.0.0.tar.gz')
  t.equal(replaced.statusCode, 201, replaced.body)
  t.equal((await get(app, '/v1/_packs/ovw1/1.x')).json().digest, sha(next))
})

t.test('deletes on either side are seen on the other', async (t) => {
  const app = await testApp(t)
  const a = await pushPack(app, { version: '1.0.0' })
  await pushPack(app, { version: '1.1.0' })
  const del = await app.inject({ method: 'DELETE', url: `/v2/${NS}/hellouniverse/manifests/${a.manifestDigest}`, headers: { authorization: ADMIN } })
  t.equal(del.statusCode, 202)
  t.same((await get(app, '/v1/hellouniverse/tags/list')).json().tags, ['1.1.0', '1.1.x', '1.x'], '/v1 sees the /v2 delete, parents relinked')
  const tagDel = await app.inject({ method: 'DELETE', url: `/v2/${NS}/hellouniverse/manifests/1.x`, headers: { authorization: ADMIN } })
  t.equal(tagDel.statusCode, 403, 'parent tags are protected on /v2 too')
  t.equal(tagDel.json().errors[0].code, 'DENIED')
  await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.1.0', headers: { authorization: ADMIN } })
  const gone = await get(app, `/v2/${NS}/hellouniverse/manifests/1.1.0`)
  t.equal(gone.statusCode, 404)
  t.same((await get(app, '/v2/_catalog')).json(), { repositories: [] })
})

t.test('a pack archive uploaded in one request is read on the way: the manifest PUT does not read it again', async (t) => {
  const app = await testApp(t)
  const tgz = await archive(packFiles({ name: 'onepass' }))
  const store = app.registry.store
  const opened: string[] = []
  const open = store.open.bind(store)
  store.open = (digest, range) => {
    opened.push(digest)
    return open(digest, range)
  }
  const res = await orasPush(app, `${NS}/onepass`, '1.0.0', tgz, 'onepass-1.0.0.tar.gz')
  t.equal(res.statusCode, 201)
  t.same(opened, [], 'nothing was read back from the store')
  t.equal((await get(app, '/v1/_packs/onepass/1.0.0/files/values.yaml')).statusCode, 200)
})

/** Counts the bytes the app reads back from its blob store, per digest. */
function countStoreReads(app: FastifyInstance): Map<string, number> {
  const read = new Map<string, number>()
  const store = app.registry.store
  const open = store.open.bind(store)
  store.open = async (digest, range) => {
    const stream = await open(digest, range)
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        read.set(digest, (read.get(digest) ?? 0) + chunk.length)
        done(null, chunk)
      },
    })
    counted.on('close', () => stream.destroy())
    return stream.pipe(counted)
  }
  return read
}

/** A chunked upload (POST, PATCH, PUT): the manifest PUT is then the first to read the blob. */
async function chunkedUpload(app: FastifyInstance, repo: string, data: Buffer): Promise<void> {
  const started = await app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/`, headers: { authorization: ADMIN } })
  const location = started.headers.location as string
  const patched = await app.inject({ method: 'PATCH', url: location, payload: data, headers: { authorization: ADMIN, 'content-type': 'application/octet-stream', 'content-range': `0-${data.length - 1}` } })
  const done = await app.inject({ method: 'PUT', url: `${patched.headers.location as string}${(patched.headers.location as string).includes('?') ? '&' : '?'}digest=${sha(data)}`, headers: { authorization: ADMIN } })
  if (done.statusCode !== 201) throw new Error(`chunked upload: ${done.statusCode} ${done.body}`)
}

t.test('a gzip bomb layer is refused on every manifest PUT into a pack repository, having read a fraction of it, never stored as an artifact', async (t) => {
  // An unpacked size limit above the bomb's, so that the ratio has to catch it: as found, a few
  // MB of layer that inflate to GiBs (here 8 MB to 8 GiB, so that the store's reads ahead, 1 MiB
  // at a time, stay well under half of it).
  const app = await testApp(t, { limits: { unpackedsize: '16GiB' } })
  const reads = countStoreReads(app)
  const bomb = await zerosBomb(8 * 1024 ** 3)
  const manifest = packManifest({ digest: sha(bomb), size: bomb.length }, 'bomb-1.0.0.tar.gz')
  const surfaces: Array<[string, string, (repo: string) => Promise<void>]> = [
    ['/v2, uploaded in one request', `/v2/${NS}/bomb`, async (repo) => {
      t.equal((await uploadBlob(app, repo, bomb)).statusCode, 201)
    }],
    ['/v2, uploaded in chunks', `/v2/${NS}/bomb2`, (repo) => chunkedUpload(app, repo, bomb)],
    ['/v1, uploaded in one request', '/v1/bomb3', async (repo) => {
      const res = await app.inject({ method: 'POST', url: `${repo}/blobs/uploads/?digest=${sha(bomb)}`, payload: bomb, headers: { authorization: ADMIN, 'content-type': 'application/octet-stream' } })
      t.equal(res.statusCode, 201)
    }],
  ]
  for (const [what, path, upload] of surfaces) {
    await upload(path.replace(/^\/v2\//, ''))
    for (const blob of [EMPTY_CONFIG]) await app.inject({ method: 'POST', url: `${path}/blobs/uploads/?digest=${sha(blob)}`, payload: blob, headers: { authorization: ADMIN, 'content-type': 'application/octet-stream' } })
    reads.clear()
    const res = await app.inject({ method: 'PUT', url: `${path}/manifests/1.0.0`, payload: manifest.content, headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE } })
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().errors[0].code, 'MANIFEST_INVALID', what)
    t.match(res.json().errors[0].message, /layer sha256:[0-9a-f]{64} is a gzip tar that breaks this registry's archive limits before any pack\.json: .*limits\.maxcompressionratio/, what)
    t.match(res.json().errors[0].detail, { digest: sha(bomb), reason: 'compression ratio', limit: 200 }, what)
    const read = reads.get(sha(bomb)) ?? 0
    if (what.includes('in one request')) t.equal(read, 0, `${what}: refused as the upload was, without reading the layer again`)
    else t.ok(read < bomb.length / 2, `${what}: read ${read} of ${bomb.length} bytes before refusing`)
  }
  t.same((await get(app, '/v1/_catalog')).json(), { repositories: [] }, 'nothing was stored as a pack or an artifact')
})

t.test('the archive limits decide a gzip tar layer before any pack.json; what is no gzip tar is an artifact', async (t) => {
  const app = await testApp(t, { limits: { entries: 5, archivesize: '64KiB' } })
  const refusals: Array<[string, Buffer, RegExp]> = [
    ['more entries than limits.entries', await handArchive(Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, content: 'x' }))), /more than 5 entries \(limits\.entries\)/],
    ['a gzip tar over limits.archivesize', await handArchive([{ name: 'noise.bin', content: randomBytes(512 * 1024) }]), /limits\.archivesize: 65536 bytes/],
  ]
  for (const [what, layer, message] of refusals) {
    const res = await orasPush(app, `${NS}/limited`, '1.0.0', layer, 'limited-1.0.0.tar.gz')
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().errors[0].code, 'MANIFEST_INVALID', what)
    t.match(res.json().errors[0].message, message, what)
  }
  const within = await orasPush(app, `${NS}/limited`, '1.0.0', await handArchive([{ name: 'notes.txt', content: 'not a pack' }]), 'notes.tar.gz')
  t.equal(within.statusCode, 201, 'a gzip tar within the limits without pack.json is an artifact')
  const octets = await orasPush(app, `${NS}/limited`, '2.0.0', randomBytes(200 * 1024), 'blob.bin')
  t.equal(octets.statusCode, 201, 'a layer larger than limits.archivesize that is no gzip is an artifact')
  t.same((await get(app, '/v1/_packs/limited')).json().tags.filter((x: { kind: string }) => x.kind === 'artifact').map((x: { tag: string }) => x.tag), ['1.0.0', '2.0.0'])
})

t.test('an upload cut short leaves no reading for a manifest PUT to wait on', async (t) => {
  const { app, server } = await listeningApp(t)
  const tgz = await archive(packFiles({ name: 'cut' }, { 'charts/noise.bin': randomBytes(3 << 20) }))
  const [host, port] = server.split(':') as [string, string]
  await new Promise<void>((resolve) => {
    const req = request({ host, port, method: 'POST', path: `/v2/${NS}/cut/blobs/uploads/?digest=${sha(tgz)}`, headers: { authorization: ADMIN, 'content-type': 'application/octet-stream', 'content-length': tgz.length } })
    req.on('error', () => resolve())
    req.write(tgz.subarray(0, 1 << 20), () => setTimeout(() => {
      req.destroy()
      resolve()
    }, 200))
  })
  await chunkedUpload(app, `${NS}/cut`, tgz)
  await uploadBlob(app, `${NS}/cut`, EMPTY_CONFIG)
  const manifest = packManifest({ digest: sha(tgz), size: tgz.length }, 'cut-1.0.0.tar.gz')
  const res = await app.inject({ method: 'PUT', url: `/v2/${NS}/cut/manifests/1.0.0`, payload: manifest.content, headers: { authorization: ADMIN, 'content-type': MANIFEST_TYPE } })
  t.equal(res.statusCode, 201, 'the pack, read from the store')
})
