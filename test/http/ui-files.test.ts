// The pack browser's file pages over app.inject: every file of a version's archive opens on its
// own page (YAML and JSON highlighted, everything escaped, binary files offered as a download,
// long files cut with a note), charts inside a pack (and charts inside those) list their files,
// which open too; for packs pushed to /v1/_packs and packs pushed as files on the distribution
// API. Bad paths (`..`, backslashes, absolute) are 400s, unknown files 404s naming what is
// missing; hostile charts (a gzip bomb, unsafe entries, not gzip at all, too many entries) give
// a page that says why, never a 5xx (testApp fails any 5xx); readers may look, strangers not.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { sha256Digest as sha } from '../../src/store/digest.js'
import { ADMIN, listeningApp, READER, testApp } from '../helpers.js'
import { archive, get, orasPush, packFiles, push, uploadBlob } from '../pack-fixtures.js'
import { handArchive, zerosBomb } from '../tar-fixtures.js'

const NS = 'spectro-packs/archive'
const TITLE = 'org.opencontainers.image.title'

/** A GET sent with its path exactly as given (no URL resolution of `..` and `.`). */
function rawGet(server: string, path: string): Promise<{ status: number; body: string }> {
  const [host, port] = server.split(':')
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, headers: { authorization: ADMIN } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function page(app: FastifyInstance, url: string, authorization = ADMIN) {
  const res = await get(app, url, authorization)
  return { status: res.statusCode, html: res.body, res }
}

/** A Helm chart as `helm package` makes it: everything inside a folder named after the chart. */
async function chart(name: string, extra: Array<{ name: string; content: string | Buffer }> = []): Promise<Buffer> {
  return handArchive([
    { name: `${name}/Chart.yaml`, content: `apiVersion: v2\nname: ${name}\nversion: 1.0.0\n` },
    { name: `${name}/values.yaml`, content: 'replicaCount: 1\nimage:\n  repository: nginx\n' },
    { name: `${name}/templates/deployment.yaml`, content: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n' },
    ...extra,
  ])
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex')

async function pushRichPack(app: FastifyInstance) {
  const sub = await chart('sub')
  const files = {
    'README.md': '# Hello\n\n<script>alert(1)</script>\n',
    'manifests/deploy.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "<b>hello</b>"\ndata:\n  replicas: "3"\n',
    'manifests/odd name #1.yaml': 'a: 1\n',
    'charts/app-1.0.0.tgz': await chart('app', [{ name: 'app/charts/sub-0.1.0.tgz', content: sub }]),
    'logo.png': PNG,
    // Random, so that it does not compress beyond limits.maxcompressionratio.
    'docs/big.txt': randomBytes(810 * 1024).toString('base64'),
    'scripts/install.sh': '#!/bin/sh\necho "installing"\n',
  }
  const res = await push(app, await archive(packFiles({}, files)))
  if (res.statusCode !== 201) throw new Error(`push failed: ${res.statusCode} ${res.body}`)
}

t.test('every file of a version opens: highlighted, escaped, binary, truncated, and charts inside it', async (t) => {
  const app = await testApp(t)
  await pushRichPack(app)

  const version = await page(app, '/packs/hellouniverse/1.0.0')
  t.equal(version.status, 200)
  t.match(version.html, /<a class="file-link" href="\/packs\/hellouniverse\/1.0.0\/files\/manifests\/deploy.yaml"><code>manifests\/deploy.yaml<\/code><\/a>/, 'the file list links each file')
  t.match(version.html, /href="\/packs\/hellouniverse\/1.0.0\/files\/manifests\/odd%20name%20%231.yaml"/, 'names are encoded in links')
  t.match(version.html, /href="\/packs\/hellouniverse\/1.0.0\/files\/charts\/app-1.0.0.tgz"/)

  const yaml = await page(app, '/packs/hellouniverse/1.0.0/files/manifests/deploy.yaml')
  t.equal(yaml.status, 200)
  t.match(yaml.res.headers['content-type'], /^text\/html/)
  t.match(yaml.html, /<code class="hljs language-yaml">/)
  t.match(yaml.html, /<span class="hljs-attr">kind:<\/span> <span class="hljs-string">ConfigMap<\/span>/, 'YAML highlighted')
  t.match(yaml.html, /&lt;b&gt;hello&lt;\/b&gt;/, 'author text escaped')
  t.notMatch(yaml.html, /<b>hello<\/b>/)
  t.match(yaml.html, /<a href="\/packs\/hellouniverse\/1.0.0#files">1.0.0<\/a> \/ <span>manifests<\/span> \/ <span>deploy.yaml<\/span>/, 'breadcrumb back to the version')
  t.match(yaml.html, /href="\/packs\/hellouniverse\/1.0.0\/raw\/manifests\/deploy.yaml"/, 'a download link')

  const json = await page(app, '/packs/hellouniverse/1.0.0/files/pack.json')
  t.match(json.html, /<code class="hljs language-json">/)
  t.match(json.html, /<span class="hljs-attr">&quot;name&quot;<\/span>/, 'JSON highlighted')

  const readme = await page(app, '/packs/hellouniverse/1.0.0/files/README.md')
  t.match(readme.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'plain text escaped')
  t.notMatch(readme.html, /<script>alert/)
  t.match((await page(app, '/packs/hellouniverse/1.0.0/files/scripts/install.sh')).html, /language-bash/)
  t.equal((await page(app, '/packs/hellouniverse/1.0.0/files/manifests/odd%20name%20%231.yaml')).status, 200, 'an encoded name opens')

  const logo = await page(app, '/packs/hellouniverse/1.0.0/files/logo.png')
  t.equal(logo.status, 200)
  t.match(logo.html, /This is a binary file of 29 B \(29 bytes\)/)
  t.notMatch(logo.html, /<pre/)
  const raw = await get(app, '/packs/hellouniverse/1.0.0/raw/logo.png')
  t.equal(raw.statusCode, 200)
  t.same(raw.rawPayload, PNG, 'the download is the file, byte for byte')
  t.equal(raw.headers['content-type'], 'application/octet-stream')
  t.equal(raw.headers['content-disposition'], 'attachment; filename="logo.png"; filename*=UTF-8\'\'logo.png')
  t.equal(raw.headers['x-content-type-options'], 'nosniff')

  const big = await page(app, '/packs/hellouniverse/1.0.0/files/docs/big.txt')
  t.equal(big.status, 200)
  t.match(big.html, /Only the first 1\.0 MiB of 1\.1 MiB are shown: download the file for the rest\./)
  t.ok(big.html.length < 1.1 * 1024 * 1024, 'no more than the cap is sent')

  const app1 = await page(app, '/packs/hellouniverse/1.0.0/files/charts/app-1.0.0.tgz')
  t.equal(app1.status, 200)
  t.match(app1.html, /<h2>Files in this archive<\/h2>/)
  t.match(app1.html, /href="\/packs\/hellouniverse\/1.0.0\/files\/charts\/app-1.0.0.tgz\/app\/templates\/deployment.yaml"><code>app\/templates\/deployment.yaml<\/code>/, 'the chart lists its files')
  t.match(app1.html, /4 files, /)

  const template = await page(app, '/packs/hellouniverse/1.0.0/files/charts/app-1.0.0.tgz/app/templates/deployment.yaml')
  t.equal(template.status, 200)
  t.match(template.html, /<span class="hljs-attr">kind:<\/span> <span class="hljs-string">Deployment<\/span>/, 'a chart\'s template opens, highlighted')
  t.match(template.html, /<a href="\/packs\/hellouniverse\/1.0.0\/files\/charts\/app-1.0.0.tgz">app-1.0.0.tgz<\/a>/, 'the breadcrumb links the chart')

  const subValues = await page(app, '/packs/hellouniverse/1.0.0/files/charts/app-1.0.0.tgz/app/charts/sub-0.1.0.tgz/sub/values.yaml')
  t.equal(subValues.status, 200, 'a subchart\'s file opens')
  t.match(subValues.html, /replicaCount/)
  const subRaw = await get(app, '/packs/hellouniverse/1.0.0/raw/charts/app-1.0.0.tgz/app/charts/sub-0.1.0.tgz/sub/Chart.yaml')
  t.equal(subRaw.body, 'apiVersion: v2\nname: sub\nversion: 1.0.0\n')

  t.equal((await page(app, '/packs/hellouniverse/1.x/files/values.yaml')).status, 200, 'by parent tag')
  const digest = (await get(app, '/v1/_packs/hellouniverse/1.0.0')).json().digest as string
  t.equal((await page(app, `/packs/hellouniverse/${digest}/files/values.yaml`)).status, 200, 'by digest')
})

t.test('bad paths are 400s, unknown files 404s naming what is missing; readers may look', async (t) => {
  const app = await testApp(t)
  await pushRichPack(app)
  const base = '/packs/hellouniverse/1.0.0'
  const cases: Array<[string, number, RegExp]> = [
    [`${base}/files/nope.yaml`, 404, /hellouniverse 1\.0\.0 has no file nope\.yaml/],
    [`${base}/files/charts/app-1.0.0.tgz/app/nope.yaml`, 404, /charts\/app-1\.0\.0\.tgz has no file app\/nope\.yaml/],
    [`${base}/files/charts/missing.tgz/x.yaml`, 404, /hellouniverse 1\.0\.0 has no file charts\/missing\.tgz/],
    [`${base}/files/manifests`, 404, /has no file manifests/],
    [`${base}/files/..%2F..%2Fetc%2Fpasswd`, 400, /&quot;\.\.\/\.\.\/etc\/passwd&quot; is not a file of this pack: &quot;\.\.&quot; would leave the pack/],
    [`${base}/files/manifests%5Cdeploy.yaml`, 400, /backslash/],
    [`${base}/files//etc/passwd`, 400, /relative to the pack/],
    [`${base}/files/manifests%2F%2Fdeploy.yaml`, 400, /empty or &quot;\.&quot; segment/],
    [`${base}/files/`, 400, /the path is empty/],
    [`${base}/files/a%00b`, 400, /NUL/],
    [`${base}/files/a.tgz/b.tgz/c.tgz/d.tgz/e.yaml`, 400, /at most 3 deep/],
    [`${base}/raw/nope.bin`, 404, /has no file nope\.bin/],
    ['/packs/nopack/1.0.0/files/values.yaml', 404, /there is no pack named nopack/],
    ['/packs/hellouniverse/9.9.9/files/values.yaml', 404, /hellouniverse has no tag 9\.9\.9/],
  ]
  for (const [url, status, message] of cases) {
    const res = await page(app, url)
    t.equal(res.status, status, url)
    t.match(res.res.headers['content-type'], /^text\/html/, `${url}: an HTML page`)
    t.match(res.html, message, url)
  }
  t.match((await page(app, `${base}/files/nope.yaml`)).html, /<a href="\/packs\/hellouniverse\/1.0.0#files">See the files of hellouniverse 1.0.0<\/a>/, 'the 404 leads back to the list')

  // inject resolves `..` and `.` in the URL as browsers do; a raw client sends them as they are.
  const listening = await listeningApp(t)
  await pushRichPack(listening.app)
  for (const [path, message] of [
    ['%2e%2e/%2e%2e/etc/passwd', /would leave the pack/],
    ['charts/app-1.0.0.tgz/../../pack.json', /would leave the pack/],
    ['manifests/./deploy.yaml', /empty or &quot;\.&quot; segment/],
  ] as const) {
    const res = await rawGet(listening.server, `${base}/files/${path}`)
    t.equal(res.status, 400, `raw ${path}`)
    t.match(res.body, message, `raw ${path}`)
  }

  t.equal((await page(app, `${base}/files/values.yaml`, READER)).status, 200, 'a reader opens files')
  t.equal((await get(app, `${base}/raw/values.yaml`, READER)).statusCode, 200)
  const stranger = await app.inject({ url: `${base}/files/values.yaml` })
  t.equal(stranger.statusCode, 401)
  t.equal((await app.inject({ url: `${base}/raw/values.yaml` })).statusCode, 401)
})

t.test('packs pushed on the distribution API, as files and as an archive: their files and charts open', async (t) => {
  const app = await testApp(t)
  const repo = `${NS}/filespack`
  const packJson = Buffer.from(JSON.stringify({ name: 'filespack', displayName: 'Files Pack', version: '2.0.0', layer: 'addon', cloudTypes: ['all'] }))
  const files: Array<[string, Buffer]> = [
    ['values.yaml', Buffer.from('pack:\n  namespace: files\n')],
    ['manifests/cm.yaml', Buffer.from('apiVersion: v1\nkind: ConfigMap\n')],
    ['charts/app-1.0.0.tgz', await chart('app')],
  ]
  for (const blob of [packJson, ...files.map(([, data]) => data)]) t.equal((await uploadBlob(app, repo, blob)).statusCode, 201)
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.spectrocloud.pack.config.v1+json', digest: sha(packJson), size: packJson.length },
    layers: files.map(([path, data]) => ({ mediaType: 'application/octet-stream', digest: sha(data), size: data.length, annotations: { [TITLE]: path } })),
  })
  const put = await app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/2.0.0`, payload: manifest, headers: { authorization: ADMIN, 'content-type': 'application/vnd.oci.image.manifest.v1+json' } })
  t.equal(put.statusCode, 201, put.body)

  const version = await page(app, '/packs/filespack/2.0.0')
  t.match(version.html, /href="\/packs\/filespack\/2.0.0\/files\/manifests\/cm.yaml"/, 'the manifests are listed')
  const cm = await page(app, '/packs/filespack/2.0.0/files/manifests/cm.yaml')
  t.equal(cm.status, 200)
  t.match(cm.html, /<span class="hljs-string">ConfigMap<\/span>/)
  const values = await page(app, '/packs/filespack/2.0.0/files/charts/app-1.0.0.tgz/app/values.yaml')
  t.equal(values.status, 200)
  t.match(values.html, /replicaCount/)

  // And the archive pushed as one layer, as `oras push` does.
  const tgz = await archive(packFiles({ name: 'manifestpack', version: '1.2.0' }, { 'manifests/ns.yaml': 'apiVersion: v1\nkind: Namespace\n' }), 'manifestpack-1.2.0')
  t.equal((await orasPush(app, `${NS}/manifestpack`, '1.2.0', tgz, 'manifestpack-1.2.0.tar.gz')).statusCode, 201)
  const ns = await page(app, '/packs/manifestpack/1.2.0/files/manifests/ns.yaml')
  t.equal(ns.status, 200)
  t.match(ns.html, /<span class="hljs-string">Namespace<\/span>/)
})

t.test('hostile charts inside a pack: a clear page saying why, never a 5xx or a hang', async (t) => {
  const app = await testApp(t, { limits: { entries: 40 } })
  const many = Array.from({ length: 45 }, (_, i) => ({ name: `many/f${i}.yaml`, content: 'a: 1\n' }))
  const charts = {
    'charts/bomb.tgz': await zerosBomb(64 * 1024 * 1024, [{ name: 'bomb/Chart.yaml', content: 'name: bomb\n' }]),
    'charts/escape.tgz': await handArchive([{ name: '../../etc/passwd', content: 'root:x:0:0\n' }]),
    'charts/link.tgz': await handArchive([{ name: 'link/evil', type: 'symlink', linkname: '/etc/passwd' }]),
    'charts/plain.tgz': Buffer.from('this is no gzip tar at all\n'),
    'charts/many.tgz': await handArchive(many),
  }
  const res = await push(app, await archive(packFiles({}, charts)))
  t.equal(res.statusCode, 201, res.body)
  const base = '/packs/hellouniverse/1.0.0/files'
  const cases: Array<[string, RegExp]> = [
    ['charts/bomb.tgz', /could not be read to list its files: the archive unpacks to more than 200 times its compressed size/],
    ['charts/escape.tgz', /could not be read to list its files: archive entry &quot;\.\.\/\.\.\/etc\/passwd&quot; is not allowed: parent directory \(\.\.\) in path/],
    ['charts/link.tgz', /symbolic links are not allowed/],
    ['charts/plain.tgz', /the upload is not a gzip tar archive/],
    ['charts/many.tgz', /the archive has more than 40 entries \(limits\.entries\)/],
  ]
  for (const [path, reason] of cases) {
    const started = Date.now()
    const listing = await page(app, `${base}/${path}`)
    t.equal(listing.status, 200, `${path}: the chart's page`)
    t.match(listing.html, reason, path)
    t.notMatch(listing.html, /packyard fsck/, 'no fsck hint: the chart was never a stored blob of its own')
    t.ok(Date.now() - started < 5000, `${path} answered at once`)
  }
  const inside = await page(app, `${base}/charts/bomb.tgz/bomb/zeros.bin`)
  t.equal(inside.status, 400, 'a file inside a bomb')
  t.match(inside.html, /the archive unpacks to more than 200 times its compressed size/)
  const escaped = await page(app, `${base}/charts/escape.tgz/etc/passwd`)
  t.equal(escaped.status, 400)
  t.match(escaped.html, /parent directory \(\.\.\) in path/)
  t.notMatch(escaped.html, /root:x/)
})

t.test('files larger than limits.filesize are shown in part and not sent whole', async (t) => {
  const app = await testApp(t, { limits: { filesize: 64 * 1024 } })
  const res = await push(app, await archive(packFiles({}, { 'docs/large.yaml': `a: "${'x'.repeat(100 * 1024)}"\n`, 'charts/big.tgz': await chart('big', [{ name: 'big/blob.bin', content: randomBytes(200 * 1024) }]) })))
  t.equal(res.statusCode, 201, res.body)
  t.equal((await page(app, '/packs/hellouniverse/1.0.0/files/docs/large.yaml')).status, 200)
  const raw = await page(app, '/packs/hellouniverse/1.0.0/raw/docs/large.yaml')
  t.equal(raw.status, 413)
  t.match(raw.html, /docs\/large\.yaml is 102406 bytes, more than the browser sends on its own \(limits\.filesize: 65536 bytes\); download the version&#39;s archive instead/)
  const big = await page(app, '/packs/hellouniverse/1.0.0/files/charts/big.tgz')
  t.equal(big.status, 200, 'a chart too large to open')
  t.match(big.html, /too large to list here/)
})
