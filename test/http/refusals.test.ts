// Requests that used to be served and must now be refused (the reliability issue's defects 6,
// 7 and 11): a caller-chosen media type for author-supplied bytes, a /v2 manifest whose
// descriptor sizes lie, and a version delete that follows a moving tag.

import t from 'tap'
import { EMPTY_CONFIG, packManifest } from '../../src/packs/oras-manifest.js'
import { sha256Digest } from '../../src/store/digest.js'
import { ADMIN, testApp } from '../helpers.js'
import { archive, get, packFiles, pushPack, uploadBlob } from '../pack-fixtures.js'

t.test('?type= on a blob: an allow-list; documents are attachments; nothing runs as a page', async (t) => {
  const app = await testApp(t)
  const pushed = await pushPack(app, {}, { 'README.md': '<script>alert(1)</script>\n', 'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47]) })
  const files = (await get(app, '/v1/_packs/hellouniverse/1.0.0')).json().files as Record<string, { digest: string }>
  const readme = files['README.md']?.digest as string
  const logo = files['logo.png']?.digest as string
  const cases: Array<{ type: string; digest: string; status: number; disposition?: RegExp; served?: string }> = [
    { type: 'text/html', digest: readme, status: 400 },
    { type: 'application/xhtml+xml', digest: readme, status: 400 },
    { type: 'text/html;charset=utf-8', digest: readme, status: 400 },
    { type: 'image/png', digest: logo, status: 200 },
    { type: 'image/webp', digest: logo, status: 200 },
    { type: 'image.webp', digest: logo, status: 200, served: 'image/webp' },
    { type: 'image.png', digest: logo, status: 200, served: 'image/png' },
    { type: 'image.html', digest: readme, status: 400 },
    { type: 'image/svg+xml', digest: logo, status: 200 },
    { type: 'text/markdown', digest: readme, status: 200, disposition: /^attachment/ },
    { type: 'text/plain', digest: readme, status: 200, disposition: /^attachment/ },
    { type: 'application/json', digest: readme, status: 200, disposition: /^attachment/ },
    { type: 'application/yaml', digest: readme, status: 200, disposition: /^attachment/ },
    { type: 'application/gzip', digest: pushed.digest, status: 200, disposition: /^attachment/ },
    { type: 'application/octet-stream', digest: pushed.digest, status: 200, disposition: /^attachment/ },
  ]
  for (const c of cases) {
    const res = await get(app, `/v1/hellouniverse/blobs/${c.digest}?type=${encodeURIComponent(c.type)}`)
    t.equal(res.statusCode, c.status, c.type)
    if (c.status === 400) {
      t.match(res.json().errors[0].message, /cannot be served; ask for one of image\/png/, c.type)
      continue
    }
    t.equal(res.headers['content-type'], c.served ?? c.type, c.type)
    t.equal(res.headers['x-content-type-options'], 'nosniff', c.type)
    t.match(res.headers['content-security-policy'], /^sandbox/, c.type)
    if (c.disposition) t.match(res.headers['content-disposition'], c.disposition, c.type)
    else t.equal(res.headers['content-disposition'], undefined, `${c.type} is shown inline`)
  }
})

t.test('/v2: a pack manifest whose descriptor sizes differ from the stored blobs is refused', async (t) => {
  const app = await testApp(t)
  const repo = 'spectro-packs/archive/hellouniverse'
  const tgz = await archive(packFiles())
  for (const blob of [EMPTY_CONFIG, tgz]) t.equal((await uploadBlob(app, repo, blob)).statusCode, 201)
  const honest = JSON.parse(packManifest({ digest: sha256Digest(tgz), size: tgz.length }, 'hellouniverse-1.0.0.tar.gz').content.toString())
  for (const size of [1, 1e15, tgz.length + 1]) {
    const lying = { ...honest, layers: [{ ...honest.layers[0], size }] }
    const res = await app.inject({
      method: 'PUT',
      url: `/v2/${repo}/manifests/1.0.0`,
      payload: JSON.stringify(lying),
      headers: { authorization: ADMIN, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    })
    t.equal(res.statusCode, 400, `layer size ${size}`)
    t.match(res.json().errors[0], { code: 'MANIFEST_INVALID', message: /layer 0 declares sha256:[a-f0-9]{64} as \d+ bytes, but it has \d+/ })
  }
  const wrongConfig = { ...honest, config: { ...honest.config, size: 3 } }
  const res = await app.inject({
    method: 'PUT',
    url: `/v2/${repo}/manifests/1.0.0`,
    payload: JSON.stringify(wrongConfig),
    headers: { authorization: ADMIN, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  })
  t.match(res.json().errors[0], { code: 'MANIFEST_INVALID', message: /the config declares/ })
  t.equal((await get(app, '/v1/_packs/hellouniverse')).statusCode, 404, 'no half-pack was made')
})

t.test('a version is deleted by its version tag or digest, never by a parent tag or alias', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { version: '1.0.0' })
  const newest = await pushPack(app, { version: '1.2.0' })
  await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', payload: { ref: '1.0.0' }, headers: { authorization: ADMIN } })
  for (const [ref, names] of [['1.x', /parent tag.*version tag 1\.2\.0/], ['1.2.x', /parent tag.*version tag 1\.2\.0/], ['stable', /alias.*version tag 1\.0\.0/]] as const) {
    const res = await app.inject({ method: 'DELETE', url: `/v1/_packs/hellouniverse/${ref}`, headers: { authorization: ADMIN } })
    t.equal(res.statusCode, 400, ref)
    t.match(res.json().errors[0].message, names, ref)
  }
  t.equal((await get(app, '/v1/_packs/hellouniverse/1.2.0')).statusCode, 200, 'nothing was deleted')
  const byTag = await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.2.0', headers: { authorization: ADMIN } })
  t.equal(byTag.statusCode, 200)
  t.equal(byTag.json().digest, newest.digest)
  t.equal((await get(app, '/v1/_packs/hellouniverse/1.x/archive')).headers['docker-content-digest'], (await get(app, '/v1/_packs/hellouniverse/1.0.0')).json().digest, '1.x re-linked to 1.0.0')
})
