// The distribution API walk (push, pull, discovery, management and their errors) as a function
// of where its requests go: an app's inject (test/http/distribution-walk.test.ts, one server) or
// real servers over HTTP (test/replicas.test.ts, replicas behind nginx, through
// test/fetch-inject.ts). Each mount is one surface: /v2 with a plain repository, /v2 with a pack
// repository under the namespace, /v1 (spectro-registry's root) with a pack name.

import type { Test } from 'tap'
import type { Injector } from '../fetch-inject.js'
import { ADMIN, READER } from '../helpers.js'
import { descriptorOf, digestOf, errorCode, makeImage, OCTET } from './v2-helpers.js'

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

export interface Mount {
  what: string
  prefix: string
  /** The repository's name on this surface, and a second one to mount from. */
  name: string
  other: string
  /** The same repository on the other surface, when it has one. */
  twin: string | null
  packRepository: boolean
}

export const MOUNTS: Mount[] = [
  { what: '/v2, a plain repository', prefix: '/v2', name: 'walk/app', other: 'walk/source', twin: null, packRepository: false },
  { what: '/v2, a pack repository', prefix: '/v2', name: 'spectro-packs/archive/walkapp', other: 'spectro-packs/archive/walksource', twin: '/v1/walkapp', packRepository: true },
  { what: '/v1, a pack name', prefix: '/v1', name: 'walkapp', other: 'walksource', twin: '/v2/spectro-packs/archive/walkapp', packRepository: true },
]

export async function walk(t: Test, app: Injector, m: Mount): Promise<void> {
  const base = `${m.prefix}/${m.name}`
  const call = (method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, opts: { body?: Buffer | string; headers?: Record<string, string>; auth?: string } = {}) =>
    app.inject({ method, url, headers: { authorization: opts.auth ?? ADMIN, ...(opts.body !== undefined ? { 'content-type': OCTET } : {}), ...opts.headers }, ...(opts.body !== undefined ? { payload: opts.body } : {}) })

  await t.test('version check and credentials', async (t) => {
    const ok = await call('GET', `${m.prefix}/`)
    t.equal(ok.statusCode, 200)
    t.equal(ok.headers['docker-distribution-api-version'], 'registry/2.0')
    const anonymous = await app.inject({ url: `${m.prefix}/` })
    t.equal(anonymous.statusCode, 401)
    t.equal(anonymous.headers['docker-distribution-api-version'], 'registry/2.0', 'a 401 says which API it is too')
    t.match(anonymous.headers['www-authenticate'], /^Basic realm=/)
  })

  const image = makeImage(`walk ${m.what}`)
  const [layer0, layer1] = image.layers as [Buffer, Buffer]

  await t.test('push: monolithic, chunked, mounted; then the manifest', async (t) => {
    const mono = await call('POST', `${base}/blobs/uploads/?digest=${digestOf(image.config)}`, { body: image.config })
    t.equal(mono.statusCode, 201)
    t.equal(mono.headers.location, `${base}/blobs/${digestOf(image.config)}`, 'Location stays on this surface')

    const start = await call('POST', `${base}/blobs/uploads/`)
    t.equal(start.statusCode, 202)
    const location = start.headers.location as string
    t.match(location, new RegExp(`^${base.replace(/\//g, '\\/')}/blobs/uploads/[0-9a-f-]{36}$`))
    const half = Math.floor(layer0.length / 2)
    const first = await call('PATCH', location, { body: layer0.subarray(0, half), headers: { 'content-range': `0-${half - 1}` } })
    t.equal(first.statusCode, 202)
    t.equal(first.headers.range, `0-${half - 1}`)
    const wrongOffset = await call('PATCH', location, { body: Buffer.from('x'), headers: { 'content-range': '5-5' } })
    t.equal(wrongOffset.statusCode, 416, 'a chunk at the wrong offset')
    t.equal(wrongOffset.headers.location, location)
    t.equal(wrongOffset.headers.range, `0-${half - 1}`, 'tells where the upload stands')
    const status = await call('GET', location)
    t.equal(status.statusCode, 204)
    const done = await call('PUT', `${location}?digest=${digestOf(layer0)}`, { body: layer0.subarray(half) })
    t.equal(done.statusCode, 201)
    t.equal(done.headers.location, `${base}/blobs/${digestOf(layer0)}`)

    t.equal((await call('POST', `${m.prefix}/${m.other}/blobs/uploads/?digest=${digestOf(layer1)}`, { body: layer1 })).statusCode, 201)
    const mounted = await call('POST', `${base}/blobs/uploads/?mount=${digestOf(layer1)}&from=${m.other}`)
    t.equal(mounted.statusCode, 201, 'mounted from a repository named on the same surface')
    t.equal(mounted.headers.location, `${base}/blobs/${digestOf(layer1)}`)
    const fallback = await call('POST', `${base}/blobs/uploads/?mount=${digestOf('nowhere')}&from=${m.other}`)
    t.equal(fallback.statusCode, 202, 'a mount of an unknown blob starts an ordinary upload')
    t.equal((await call('DELETE', fallback.headers.location as string)).statusCode, 204, 'cancelled')

    const put = await call('PUT', `${base}/manifests/stable`, { body: image.manifest, headers: { 'content-type': OCI_MANIFEST } })
    t.equal(put.statusCode, 201, put.body)
    t.equal(put.headers['docker-content-digest'], image.digest)
    t.equal(put.headers.location, `${base}/manifests/${image.digest}`)
    t.equal((await call('PUT', `${base}/manifests/edge`, { body: image.manifest, headers: { 'content-type': OCI_MANIFEST } })).statusCode, 201)
  })

  await t.test('pull: manifests by tag and digest, blobs with ranges', async (t) => {
    for (const ref of ['stable', image.digest]) {
      const got = await call('GET', `${base}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } })
      t.equal(got.statusCode, 200, ref)
      t.same(got.rawPayload, image.manifest, 'the bytes pushed, byte for byte')
      t.equal(got.headers['docker-content-digest'], image.digest)
    }
    const head = await call('HEAD', `${base}/manifests/stable`)
    t.equal(head.statusCode, 200)
    t.equal(head.headers['content-length'], String(image.manifest.length))
    t.equal((await call('GET', `${base}/manifests/stable`, { headers: { 'if-none-match': `"${image.digest}"` } })).statusCode, 304)
    t.equal(errorCode(await call('GET', `${base}/manifests/stable`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })), 'MANIFEST_UNKNOWN')
    const range = await call('GET', `${base}/blobs/${digestOf(layer0)}`, { headers: { range: 'bytes=2-9' } })
    t.equal(range.statusCode, 206)
    t.same(range.rawPayload, layer0.subarray(2, 10))
    const blobHead = await call('HEAD', `${base}/blobs/${digestOf(layer1)}`)
    t.equal(blobHead.statusCode, 200)
    t.equal(blobHead.headers['content-length'], String(layer1.length))
    t.equal((await call('GET', `${base}/blobs/${digestOf(image.config)}`, { headers: { range: 'bytes=9999999-' } })).statusCode, 416)
  })

  await t.test('discovery: tags, catalog, referrers, with paging links on this surface', async (t) => {
    const tags = await call('GET', `${base}/tags/list`)
    t.same(tags.json(), { name: m.name, tags: ['edge', 'stable'] })
    const page = await call('GET', `${base}/tags/list?n=1`)
    t.same(page.json().tags, ['edge'])
    t.equal(page.headers.link, `<${base}/tags/list?n=1&last=edge>; rel="next"`)
    const catalog = await call('GET', `${m.prefix}/_catalog`)
    t.ok((catalog.json().repositories as string[]).includes(m.name), 'the catalog names it as this surface does')

    const signature = Buffer.from('signed')
    t.equal((await call('POST', `${base}/blobs/uploads/?digest=${digestOf(signature)}`, { body: signature })).statusCode, 201)
    const referrer = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.signature',
        config: descriptorOf('application/vnd.oci.empty.v1+json', image.config),
        layers: [descriptorOf('application/vnd.example.sig', signature)],
        subject: descriptorOf(OCI_MANIFEST, image.manifest),
      }),
    )
    const signed = await call('PUT', `${base}/manifests/${digestOf(referrer)}`, { body: referrer, headers: { 'content-type': OCI_MANIFEST } })
    t.equal(signed.statusCode, 201, signed.body)
    t.equal(signed.headers['oci-subject'], image.digest)
    const referrers = await call('GET', `${base}/referrers/${image.digest}`)
    t.match(referrers.json(), { manifests: [{ digest: digestOf(referrer), artifactType: 'application/vnd.example.signature' }] })

    if (m.twin) {
      const twin = await call('GET', `${m.twin}/manifests/stable`)
      t.equal(twin.statusCode, 200, 'the other surface shows the same repository')
      t.same(twin.rawPayload, image.manifest)
    }
  })

  await t.test('errors name what is wrong', async (t) => {
    t.equal(errorCode(await call('GET', `${m.prefix}/${m.packRepository ? 'nosuchpack' : 'no/such'}/tags/list`)), 'NAME_UNKNOWN')
    t.equal(errorCode(await call('GET', `${m.prefix}/${m.prefix === '/v1' ? 'a/b' : 'UPPER'}/tags/list`)), 'NAME_INVALID')
    t.equal(errorCode(await call('GET', `${base}/blobs/sha256:nothex`)), 'DIGEST_INVALID')
    t.equal(errorCode(await call('GET', `${base}/manifests/missing`)), 'MANIFEST_UNKNOWN')
    t.equal(errorCode(await call('POST', `${base}/blobs/uploads/?digest=${digestOf('other')}`, { body: 'bytes' })), 'DIGEST_INVALID')
    const unknownBlob = makeImage('never uploaded')
    t.equal(errorCode(await call('PUT', `${base}/manifests/x`, { body: unknownBlob.manifest, headers: { 'content-type': OCI_MANIFEST } })), 'MANIFEST_BLOB_UNKNOWN')
    const lying = JSON.parse(image.manifest.toString()) as { layers: Array<{ size: number }> }
    ;(lying.layers[0] as { size: number }).size = 1
    const wrongSize = await call('PUT', `${base}/manifests/x`, { body: JSON.stringify(lying), headers: { 'content-type': OCI_MANIFEST } })
    t.equal(errorCode(wrongSize), 'MANIFEST_INVALID', 'a descriptor whose size is not the blob\'s')
    t.equal(errorCode(await call('PUT', `${base}/manifests/y`, { body: '{not json', headers: { 'content-type': OCI_MANIFEST } })), 'MANIFEST_INVALID')
    t.equal(errorCode(await call('GET', `${base}/blobs/uploads/00000000-0000-4000-8000-000000000000`)), 'BLOB_UPLOAD_UNKNOWN')
    const reader = await call('PUT', `${base}/manifests/z`, { body: image.manifest, headers: { 'content-type': OCI_MANIFEST }, auth: READER })
    t.equal(reader.statusCode, 403)
    t.equal(errorCode(reader), 'DENIED')
    if (m.packRepository) {
      const parent = await call('PUT', `${base}/manifests/1.x`, { body: image.manifest, headers: { 'content-type': OCI_MANIFEST } })
      t.equal(parent.statusCode, 403, 'a parent tag cannot be pushed')
      t.equal(errorCode(parent), 'DENIED')
    }
  })

  await t.test('management: delete by tag, by digest, blobs', async (t) => {
    t.equal((await call('DELETE', `${base}/manifests/edge`)).statusCode, 202, 'by tag: only the tag')
    t.same((await call('GET', `${base}/tags/list`)).json().tags, ['stable'])
    t.equal((await call('GET', `${base}/manifests/${image.digest}`)).statusCode, 200, 'the manifest stays')
    const blob = await call('DELETE', `${base}/blobs/${digestOf(layer1)}`)
    if (m.packRepository) t.equal(errorCode(blob), 'UNSUPPORTED', 'blobs of a pack repository go with their manifests')
    else t.equal(blob.statusCode, 202)
    t.equal((await call('DELETE', `${base}/manifests/${image.digest}`)).statusCode, 202, 'by digest: the manifest and its tags')
    t.equal(errorCode(await call('GET', `${base}/manifests/stable`)), 'MANIFEST_UNKNOWN')
  })
}
