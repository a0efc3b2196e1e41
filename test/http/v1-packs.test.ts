// /v1 pack API over app.inject: every push outcome, the tag rules Palette depends on, pulls,
// and every error answered with the envelope (never a 5xx).

import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { ADMIN, READER, tempDir, testApp, testConfig } from '../helpers.js'
import { handArchive } from '../tar-fixtures.js'
import { archive, get, multipart, orasPush, packFiles, push, pushPack } from '../pack-fixtures.js'

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`

async function tags(app: FastifyInstance, name = 'hellouniverse'): Promise<Record<string, string>> {
  const res = await get(app, `/v1/_packs/${name}`)
  if (res.statusCode !== 200) return {}
  const out: Record<string, string> = {}
  for (const t of res.json().tags as Array<{ tag: string; version: string; kind: string }>) out[t.tag] = t.kind === 'parent' ? `->${t.version}` : t.version
  return out
}

/** Which version tag each parent tag points at. */
async function parents(app: FastifyInstance, name = 'hellouniverse'): Promise<Record<string, string>> {
  const res = await get(app, `/v1/_packs/${name}`)
  const out: Record<string, string> = {}
  for (const t of res.json().tags as Array<{ tag: string; parentTags: string[] }>) for (const p of t.parentTags) out[p] = t.tag
  return out
}

t.test('push outcomes: created, TAG_EXISTS, MESSAGE_REQUIRED, unchanged, updated, skip digest check', async (t) => {
  const app = await testApp(t)
  const tgz = await archive(packFiles())
  const created = await push(app, tgz)
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, { name: 'hellouniverse', version: '1.0.0', group: null, tag: '1.0.0', digest: sha(tgz), status: 'created', parentTags: ['1.0.x', '1.x'] })

  const again = await push(app, tgz)
  t.equal(again.statusCode, 409)
  t.match(again.json().errors[0], { code: 'TAG_EXISTS', detail: { tag: '1.0.0', digest: sha(tgz) } })

  const noMessage = await push(app, tgz, { force: 'true' })
  t.equal(noMessage.statusCode, 400)
  t.equal(noMessage.json().errors[0].code, 'MESSAGE_REQUIRED')

  // Same content in a different archive (another folder name): the content digest is equal.
  const rearchived = await archive(packFiles(), 'hellouniverse-1.0.0')
  t.not(sha(rearchived), sha(tgz))
  const unchanged = await push(app, rearchived, { force: 'true', message: 'again' })
  t.equal(unchanged.statusCode, 200)
  t.match(unchanged.json(), { status: 'unchanged', digest: sha(tgz), contentDigest: body.contentDigest })

  const skipped = await push(app, rearchived, { force: 'true', message: 'rebuild', skipDigestCheck: 'true' })
  t.equal(skipped.statusCode, 200)
  t.match(skipped.json(), { status: 'updated', digest: sha(rearchived), previousDigest: sha(tgz) })

  const changedTgz = await archive(packFiles({}, { 'values.yaml': 'pack:\n  namespace: changed\n' }))
  const changed = await push(app, changedTgz, { force: 'true', message: 'new values' })
  t.equal(changed.statusCode, 200)
  t.match(changed.json(), { status: 'updated', digest: sha(changedTgz), previousDigest: sha(rearchived) })
  t.not(changed.json().contentDigest, body.contentDigest)

  const list = await get(app, '/v1/hellouniverse/tags/list')
  t.same(list.json(), { name: 'hellouniverse', tags: ['1.0.0', '1.0.x', '1.x'] })

  const detail = await get(app, '/v1/_packs/hellouniverse/1.0.0')
  const history = detail.json().history as Array<{ action: string; forced: boolean; message: string | null; oldDigest: string | null; newDigest: string }>
  t.same(
    history.map((h) => [h.action, h.forced, h.message, h.oldDigest, h.newDigest]),
    [
      ['create', false, null, null, sha(tgz)],
      ['update', true, 'rebuild', sha(tgz), sha(rearchived)],
      ['update', true, 'new values', sha(rearchived), sha(changedTgz)],
    ],
  )
})

t.test('force on a new tag with a message creates it; force needs a message even then', async (t) => {
  const app = await testApp(t)
  const tgz = await archive(packFiles())
  t.equal((await push(app, tgz, { force: 'true' })).statusCode, 400)
  const res = await push(app, tgz, { force: 'true', message: 'first' })
  t.equal(res.statusCode, 201)
  t.equal((await push(app, tgz, { force: 'maybe', message: 'x' })).json().errors[0].code, 'BAD_REQUEST')
})

t.test('concurrent force pushes of one tag: consistent final state, both events in order', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  const a = await archive(packFiles({}, { 'values.yaml': 'a: 1\n' }))
  const b = await archive(packFiles({}, { 'values.yaml': 'b: 2\n' }))
  const [ra, rb] = await Promise.all([push(app, a, { force: 'true', message: 'from a' }), push(app, b, { force: 'true', message: 'from b' })])
  t.equal(ra.statusCode, 200)
  t.equal(rb.statusCode, 200)
  const detail = (await get(app, '/v1/_packs/hellouniverse/1.0.0')).json()
  const history = detail.history as Array<{ message: string; oldDigest: string; newDigest: string }>
  t.equal(history.length, 3)
  const [, first, second] = history
  t.equal(second?.oldDigest, first?.newDigest, 'the second event starts where the first ended')
  t.equal(detail.digest, second?.newDigest, 'the tag points at the last write')
  const archiveRes = await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')
  t.equal(sha(archiveRes.rawPayload), detail.digest)
  const versions = (await get(app, '/v1/_packs/hellouniverse')).json().versions
  t.equal(versions.length, 1, 'the replaced versions are gone')
})

t.test('parent tags: highest version per major and minor, relinked on delete, removed when empty', async (t) => {
  const app = await testApp(t)
  for (const version of ['1.0.0', '1.0.1', '1.1.0', '2.0.0-rc.1']) await pushPack(app, { version })
  t.same(await parents(app), { '1.x': '1.1.0', '1.0.x': '1.0.1', '1.1.x': '1.1.0', '2.x': '2.0.0-rc.1', '2.0.x': '2.0.0-rc.1' })

  const del = await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/_tags/1.1.0', headers: { authorization: ADMIN } })
  t.equal(del.statusCode, 200)
  t.same(await parents(app), { '1.x': '1.0.1', '1.0.x': '1.0.1', '2.x': '2.0.0-rc.1', '2.0.x': '2.0.0-rc.1' }, '1.x relinked, 1.1.x gone')

  await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.1', headers: { authorization: ADMIN } })
  t.same(await parents(app), { '1.x': '1.0.0', '1.0.x': '1.0.0', '2.x': '2.0.0-rc.1', '2.0.x': '2.0.0-rc.1' })

  await pushPack(app, { version: '2.0.0' })
  t.same((await parents(app))['2.x'], '2.0.0', 'a release beats its prerelease')

  const resolved = (await get(app, '/v1/_packs/hellouniverse/1.x')).json()
  t.equal(resolved.version, '1.0.0', 'parent tags resolve')
})

t.test('versions normalise: 1.5 and 22.04; ties go to the latest write', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { version: '22.04' })
  t.same(await parents(app), { '22.x': '22.04', '22.4.x': '22.04' })
  await pushPack(app, { version: 'v22.4.0' })
  t.same(await parents(app), { '22.x': 'v22.4.0', '22.4.x': 'v22.4.0' }, 'equal precedence: the newer write wins')
})

t.test('a version in group LTS gets LTS__ tags; groups are separate', async (t) => {
  const app = await testApp(t)
  const res = await pushPack(app, { name: 'ubuntu', version: '22.04', group: 'LTS', layer: 'os' })
  t.equal(res.tag, 'LTS__22.04')
  t.same(res.parentTags, ['LTS__22.4.x', 'LTS__22.x'])
  await pushPack(app, { name: 'ubuntu', version: '24.04', group: ' ', layer: 'os' })
  t.same(await parents(app, 'ubuntu'), { 'LTS__22.x': 'LTS__22.04', 'LTS__22.4.x': 'LTS__22.04', '24.x': '24.04', '24.4.x': '24.04' })
  const list = (await get(app, '/v1/_packs?name=ubu')).json().packs[0]
  t.same(
    list.tags.map((x: { tag: string; group: string | null; label: string }) => [x.tag, x.group, x.label]),
    [
      ['24.04', null, '24.04'],
      ['LTS__22.04', 'LTS', '22.04'],
    ],
  )
})

t.test('tag add: alias without parents, grouped version tag with parents, conflicts and protection', async (t) => {
  const app = await testApp(t)
  const v1 = await pushPack(app, { version: '1.0.0' })
  await pushPack(app, { version: '1.1.0' })
  const put = (tag: string, ref: string, authorization = ADMIN) =>
    app.inject({ method: 'PUT', url: `/v1/_packs/hellouniverse/_tags/${tag}`, payload: { ref }, headers: { authorization } })

  const stable = await put('stable', '1.0.0')
  t.equal(stable.statusCode, 201)
  t.match(stable.json(), { tag: 'stable', kind: 'alias', version: '1.0.0', digest: v1.digest, parentTags: [], status: 'created' })
  t.equal((await put('stable', '1.0.0')).statusCode, 200, 'already so')
  t.equal((await put('stable', v1.digest)).json().status, 'unchanged', 'by archive digest')
  const moved = await put('stable', '1.1.0')
  t.equal(moved.statusCode, 409)
  t.equal(moved.json().errors[0].code, 'TAG_EXISTS')

  const beta = await put('lts__1.2.0-beta', '1.1.0')
  t.equal(beta.statusCode, 201)
  t.match(beta.json(), { tag: 'lts__1.2.0-beta', group: 'lts', label: '1.2.0-beta', kind: 'version', parentTags: ['lts__1.2.x', 'lts__1.x'] })
  t.same((await parents(app))['1.x'], '1.1.0', 'the ungrouped parents are untouched')

  t.equal((await put('1.x', '1.0.0')).json().errors[0].code, 'TAG_PROTECTED')
  t.equal((await put('bad tag', '1.0.0')).json().errors[0].code, 'TAG_INVALID')
  t.equal((await put('other', '9.9.9')).json().errors[0].code, 'TAG_UNKNOWN')
  t.equal((await put('other', `sha256:${'0'.repeat(64)}`)).json().errors[0].code, 'MANIFEST_UNKNOWN')
  t.equal((await put('other', '1.0.0', READER)).statusCode, 403)
  const noBody = await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/x', payload: {}, headers: { authorization: ADMIN } })
  t.equal(noBody.statusCode, 400)
})

t.test('tag delete: parent tags are protected; unknown tags are 404; the last tag removes the version', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { version: '1.0.0' })
  const del = (tag: string, authorization = ADMIN) => app.inject({ method: 'DELETE', url: `/v1/_packs/hellouniverse/_tags/${tag}`, headers: { authorization } })
  const parent = await del('1.0.x')
  t.equal(parent.statusCode, 403)
  t.equal(parent.json().errors[0].code, 'TAG_PROTECTED')
  t.match(parent.json().errors[0].message, /parent tag managed by the registry/)
  t.equal((await del('9.9.9')).json().errors[0].code, 'TAG_UNKNOWN')
  t.equal((await del('1.0.0', READER)).statusCode, 403)
  await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', payload: { ref: '1.0.0' }, headers: { authorization: ADMIN } })
  t.equal((await del('1.0.0')).statusCode, 200)
  t.same(await tags(app), { stable: '1.0.0' }, 'the alias keeps the version; no version tag, no parents')
  t.equal((await del('stable')).statusCode, 200)
  t.equal((await get(app, '/v1/_packs/hellouniverse')).statusCode, 404, 'the pack is gone with its last tag')
  t.same((await get(app, '/v1/_catalog')).json(), { repositories: [] })
})

t.test('version delete removes every tag on it; deleting can be disabled', async (t) => {
  const app = await testApp(t)
  const v = await pushPack(app, { version: '1.0.0' })
  await pushPack(app, { version: '1.0.1' })
  await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', payload: { ref: '1.0.0' }, headers: { authorization: ADMIN } })
  const res = await app.inject({ method: 'DELETE', url: `/v1/_packs/hellouniverse/${v.manifestDigest}`, headers: { authorization: ADMIN } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { name: 'hellouniverse', version: '1.0.0', digest: v.digest, tags: ['1.0.0', 'stable'] })
  t.same(await tags(app), { '1.0.1': '1.0.1', '1.0.x': '->1.0.1', '1.x': '->1.0.1' })
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.1', headers: { authorization: READER } })).statusCode, 403)

  const locked = await testApp(t, { storage: { delete: { enabled: false } } })
  await pushPack(locked, {})
  const refused = await locked.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.0', headers: { authorization: ADMIN } })
  t.equal(refused.statusCode, 405)
  t.equal(refused.json().errors[0].code, 'UNSUPPORTED')
})

t.test('a version that is not semantic is deleted by its own tag; an alias on it is still refused', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { version: '1.2.3.4' })
  await pushPack(app, { version: 'latest', group: 'edge' })
  await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', payload: { ref: '1.2.3.4' }, headers: { authorization: ADMIN } })
  const alias = await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/stable', headers: { authorization: ADMIN } })
  t.equal(alias.statusCode, 400)
  t.match(alias.json().errors[0].message, 'hellouniverse:stable is an alias, which can be moved; to delete the version it points at now, name it by its version tag 1.2.3.4')
  const four = await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.2.3.4', headers: { authorization: ADMIN } })
  t.equal(four.statusCode, 200, four.body)
  t.match(four.json(), { version: '1.2.3.4', tags: ['1.2.3.4', 'stable'] })
  const latest = await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/edge__latest', headers: { authorization: ADMIN } })
  t.equal(latest.statusCode, 200, latest.body)
  t.match(latest.json(), { version: 'latest', tags: ['edge__latest'] })
  t.equal((await get(app, '/v1/_packs/hellouniverse')).statusCode, 404, 'nothing left')
})

t.test('pull by tag, archive digest and manifest digest returns the same bytes; range and caching', async (t) => {
  const app = await testApp(t)
  const tgz = await archive(packFiles({}, { 'README.md': '# Hello\n', 'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47]) }))
  const pushed = (await push(app, tgz)).json()
  for (const ref of ['1.0.0', '1.x', pushed.digest, pushed.manifestDigest]) {
    const res = await get(app, `/v1/_packs/hellouniverse/${ref}/archive`)
    t.equal(res.statusCode, 200, ref)
    t.same(res.rawPayload, tgz, `bytes by ${ref}`)
    t.equal(res.headers['docker-content-digest'], pushed.digest)
    t.equal(res.headers['content-type'], 'application/gzip')
    t.equal(res.headers['content-disposition'], 'attachment; filename="hellouniverse-1.0.0.tar.gz"')
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable')
  }
  const ranged = await app.inject({ url: '/v1/_packs/hellouniverse/1.0.0/archive', headers: { authorization: ADMIN, range: 'bytes=0-9' } })
  t.equal(ranged.statusCode, 206)
  t.same(ranged.rawPayload, tgz.subarray(0, 10))
  t.equal(ranged.headers['content-range'], `bytes 0-9/${tgz.length}`)
  const bad = await app.inject({ url: '/v1/_packs/hellouniverse/1.0.0/archive', headers: { authorization: ADMIN, range: `bytes=${tgz.length}-` } })
  t.equal(bad.statusCode, 416)
  t.equal(bad.json().errors[0].code, 'RANGE_INVALID')
  const cached = await app.inject({ url: '/v1/_packs/hellouniverse/1.0.0/archive', headers: { authorization: ADMIN, 'if-none-match': `"${pushed.digest}"` } })
  t.equal(cached.statusCode, 304)

  const readme = await get(app, '/v1/_packs/hellouniverse/1.0.0/files/README.md')
  t.equal(readme.body, '# Hello\n')
  t.match(readme.headers['content-type'], /text\/markdown/)
  const chart = await get(app, '/v1/_packs/hellouniverse/1.0.0/files/charts/x.tgz')
  t.equal(chart.statusCode, 404)
  t.equal(chart.json().errors[0].code, 'FILE_UNKNOWN')

  const pack = (await get(app, '/v1/_packs/hellouniverse')).json()
  t.match(pack, { name: 'hellouniverse', displayName: 'Hello Universe', layer: 'addon', cloudTypes: ['all'] })
  t.match(pack.logoUrl, /^\/v1\/hellouniverse\/blobs\/sha256:[a-f0-9]{64}\?type=image\/png$/)
  const logo = await get(app, pack.logoUrl)
  t.equal(logo.statusCode, 200)
  t.equal(logo.headers['content-type'], 'image/png')
  t.same(logo.rawPayload, Buffer.from([0x89, 0x50, 0x4e, 0x47]))
  t.match(pack.versions[0], { version: '1.0.0', values: 'pack:\n  namespace: hello\n', readme: '# Hello\n', presets: null, schema: null })
  t.equal((await get(app, `/v1/hellouniverse/blobs/sha256:${'1'.repeat(64)}`)).json().errors[0].code, 'BLOB_UNKNOWN')

  const manifest = await get(app, '/v1/hellouniverse/manifests/1.0.0')
  t.equal(manifest.headers['docker-content-digest'], pushed.manifestDigest)
  t.equal(manifest.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json')
  const m = manifest.json()
  // The ORAS 1.0 shape Palette's docs require for packs: no artifactType, the unknown config type.
  t.match(m, {
    schemaVersion: 2,
    config: { mediaType: 'application/vnd.unknown.config.v1+json', size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: pushed.digest, size: tgz.length, annotations: { 'org.opencontainers.image.title': 'hellouniverse-1.0.0.tar.gz' } }],
  })
  t.equal(m.artifactType, undefined)
  const head = await app.inject({ method: 'HEAD', url: `/v1/hellouniverse/manifests/${pushed.manifestDigest}`, headers: { authorization: ADMIN } })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
})

t.test('listing: filters, pagination, catalog', async (t) => {
  const app = await testApp(t)
  for (const [name, layer] of [['alpha', 'addon'], ['beta-csi', 'csi'], ['gamma', 'addon'], ['ubuntu', 'os']]) await pushPack(app, { name, layer })
  const names = async (url: string) => ((await get(app, url)).json().packs as Array<{ name: string }>).map((p) => p.name)
  t.same(await names('/v1/_packs'), ['alpha', 'beta-csi', 'gamma', 'ubuntu'])
  t.same(await names('/v1/_packs?layer=addon'), ['alpha', 'gamma'])
  t.same(await names('/v1/_packs?name=a'), ['alpha', 'beta-csi', 'gamma'])
  const page = await get(app, '/v1/_packs?n=2')
  t.same(page.json().packs.map((p: { name: string }) => p.name), ['alpha', 'beta-csi'])
  t.equal(page.headers.link, '</v1/_packs?n=2&last=beta-csi>; rel="next"')
  t.same(await names('/v1/_packs?n=2&last=beta-csi'), ['gamma', 'ubuntu'])
  const cat = await get(app, '/v1/_catalog?n=3')
  t.same(cat.json(), { repositories: ['alpha', 'beta-csi', 'gamma'] })
  t.equal(cat.headers.link, '</v1/_catalog?n=3&last=gamma>; rel="next"')
  t.same((await get(app, '/v1/_catalog?last=gamma')).json(), { repositories: ['ubuntu'] })
  t.equal((await get(app, '/v1/_packs?n=0')).statusCode, 400)
  t.equal((await get(app, '/v1/_packs?bogus=1')).statusCode, 200, 'unknown query parameters are ignored')
})

t.test('bad packs are refused with a message naming the file and field; nothing stored', async (t) => {
  const app = await testApp(t)
  const cases: Array<[string, Buffer | Promise<Buffer>, string, Record<string, unknown>]> = [
    ['pack.json not JSON', archive({ 'pack.json': '{nope', 'values.yaml': '' }), 'PACK_INVALID', { file: 'pack.json' }],
    ['no pack.json', archive({ 'values.yaml': '' }), 'ARCHIVE_INVALID', {}],
    ['not gzip', Buffer.from('plain text, not an archive'), 'ARCHIVE_INVALID', {}],
    ['bad name', archive(packFiles({ name: 'Hello World' })), 'PACK_INVALID', { field: 'name' }],
    ['no version', archive(packFiles({ version: undefined })), 'PACK_INVALID', { field: 'version' }],
  ]
  for (const [what, tgzOrPromise, code, detail] of cases) {
    const res = await push(app, await tgzOrPromise)
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().errors[0].code, code, what)
    t.match(res.json().errors[0].detail ?? {}, detail, what)
  }
  const symlink = await handArchive([
    { name: 'pack.json', content: packFiles()['pack.json'] as string },
    { name: 'values.yaml', content: '' },
    { name: 'evil', type: 'symlink', linkname: '/etc/passwd' },
  ])
  const evil = await push(app, symlink)
  t.equal(evil.statusCode, 400)
  t.match(evil.json().errors[0], { code: 'ARCHIVE_INVALID', detail: { entry: 'evil' } })
  t.same((await get(app, '/v1/_catalog')).json(), { repositories: [] }, 'nothing was recorded')
})

t.test('limits: archive size and entries from config', async (t) => {
  const app = await testApp(t, { limits: { archivesize: 2048 } })
  const big = await push(app, await archive(packFiles({}, { 'blob.bin': randomBytes(20000) })))
  t.equal(big.statusCode, 413)
  t.equal(big.json().errors[0].code, 'PAYLOAD_TOO_LARGE')
  const few = await testApp(t, { limits: { entries: 4 } })
  t.equal((await push(few, await archive(packFiles()))).statusCode, 201, 'folder + 2 files + values.yaml fit in 4')
  const many = await push(few, await archive(packFiles({ name: 'other' }, { 'a.txt': 'a', 'b.txt': 'b' })))
  t.equal(many.statusCode, 400)
  t.match(many.json().errors[0], { code: 'ARCHIVE_INVALID' })
})

t.test('push form mistakes: not multipart, no archive part, wrong part name, reader, no credentials', async (t) => {
  const app = await testApp(t)
  const json = await app.inject({ method: 'POST', url: '/v1/_packs', payload: { archive: 'x' }, headers: { authorization: ADMIN } })
  t.equal(json.statusCode, 415)
  t.equal(json.json().errors[0].code, 'UNSUPPORTED_MEDIA_TYPE')
  const noFile = multipart({ force: 'false' }, null)
  const res = await app.inject({ method: 'POST', url: '/v1/_packs', payload: noFile.payload, headers: { ...noFile.headers, authorization: ADMIN } })
  t.equal(res.statusCode, 400)
  t.match(res.json().errors[0].message, /no file part named "archive"/)
  const wrong = multipart({}, await archive(packFiles()), 'file')
  const res2 = await app.inject({ method: 'POST', url: '/v1/_packs', payload: wrong.payload, headers: { ...wrong.headers, authorization: ADMIN } })
  t.equal(res2.statusCode, 400)
  t.match(res2.json().errors[0].message, /unexpected file part "file"/)
  const reader = await push(app, await archive(packFiles()), {}, READER)
  t.equal(reader.statusCode, 403)
  t.equal(reader.json().errors[0].code, 'DENIED')
  const anon = await app.inject({ method: 'POST', url: '/v1/_packs', payload: wrong.payload, headers: wrong.headers })
  t.equal(anon.statusCode, 401)
})

t.test('reads need credentials; unknown packs and bad names are clear', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  t.equal((await app.inject({ url: '/v1/_packs' })).statusCode, 401)
  t.equal((await get(app, '/v1/_packs', READER)).statusCode, 200, 'read-only users can read')
  t.equal((await get(app, '/v1/_packs/nope')).json().errors[0].code, 'NAME_UNKNOWN')
  t.equal((await get(app, '/v1/_packs/Bad..Name')).json().errors[0].code, 'NAME_INVALID')
  t.equal((await get(app, '/v1/_packs/hellouniverse/9.9.9')).json().errors[0].code, 'TAG_UNKNOWN')
  t.equal((await get(app, '/v1/_packs/hellouniverse/sha256:abc')).json().errors[0].code, 'DIGEST_INVALID')
  t.equal((await get(app, '/v1/nope/tags/list')).statusCode, 404)
})

t.test('packs the stock registry serves are accepted with warnings, recorded with the version; strict refuses them', async (t) => {
  const app = await testApp(t)
  // Real published packs: a chart named as a .tgz but shipped unpacked, a dependency without type.
  const real = await archive(
    packFiles(
      { name: 'real', charts: ['charts/nginx-1.0.0.tgz'], constraints: { dependencies: [{ packName: 'k8s', layer: 'k8s' }] } },
      { 'charts/nginx/Chart.yaml': 'name: nginx\n' },
    ),
  )
  const strict = await push(app, real, { strict: 'true' })
  t.equal(strict.statusCode, 400, 'pack push --strict refuses warnings')
  t.match(strict.json().errors[0], { code: 'PACK_INVALID', message: /^3 problems in the pack \(strict validation: warnings are errors\)/ })
  const res = await push(app, real)
  t.equal(res.statusCode, 201)
  const fields = (res.json().warnings as Array<{ field: string | null; file: string }>).map((w) => w.field ?? w.file)
  t.same(fields, ['constraints.dependencies[0].type', 'logo.png', 'charts[0]'], 'every warning at once, in the push answer')
  t.same((await get(app, '/v1/_packs/real/1.0.0')).json().warnings, res.json().warnings, 'and kept with the version')
  const strictRegistry = await testApp(t, { packs: { validation: 'strict' } })
  t.equal((await push(strictRegistry, real)).statusCode, 400, 'packs.validation: strict refuses them for every push')
  const overOci = await orasPush(strictRegistry, 'spectro-packs/archive/real', '1.0.0', real, 'real-1.0.0.tar.gz')
  t.equal(overOci.statusCode, 400, 'and over the distribution API')
  t.match(overOci.json().errors[0], { code: 'MANIFEST_INVALID', message: /strict validation: warnings are errors/, detail: { code: 'PACK_INVALID' } })
  t.equal((await get(strictRegistry, '/v1/_packs/real/1.0.0')).statusCode, 404, 'no version was stored')
})

t.test('YAML files that do not parse are warnings naming file, line and column; strict refuses them; every surface checks', async (t) => {
  const app = await testApp(t)
  const broken = await archive(packFiles({ name: 'yamly' }, { 'logo.png': 'png', 'values.yaml': 'pack:\n  namespace: hello\n  image: "nginx\n', 'presets.yaml': 'presets: [\n', 'schema.yaml': 'a: 1\na: 2\n' }))
  const res = await push(app, broken)
  t.equal(res.statusCode, 201)
  t.same(res.json().warnings, [
    { file: 'values.yaml', field: null, message: 'values.yaml: line 4, column 1: Missing closing "quote' },
    { file: 'presets.yaml', field: null, message: 'presets.yaml: line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]' },
    { file: 'schema.yaml', field: null, message: 'schema.yaml: line 2, column 1: duplicate key "a"' },
  ])
  t.same((await get(app, '/v1/_packs/yamly/1.0.0')).json().warnings, res.json().warnings, 'kept with the version')
  const strict = await push(app, broken, { force: 'true', message: 'again', strict: 'true' })
  t.equal(strict.statusCode, 400)
  t.match(strict.json().errors[0], { code: 'PACK_INVALID', message: /^3 problems in the pack \(strict validation: warnings are errors\): values\.yaml: line 4, column 1: / })

  const strictRegistry = await testApp(t, { packs: { validation: 'strict' } })
  const overOci = await orasPush(strictRegistry, 'spectro-packs/archive/yamly', '1.0.0', broken, 'yamly-1.0.0.tar.gz')
  t.equal(overOci.statusCode, 400, 'over the distribution API too')
  t.match(overOci.json().errors[0], { code: 'MANIFEST_INVALID', detail: { code: 'PACK_INVALID', file: 'values.yaml' } })
  const fine = await push(strictRegistry, await archive(packFiles({ name: 'fine' }, { 'logo.png': 'png', 'values.yaml': '# a comment\na: [1, 2]\n' })))
  t.equal(fine.statusCode, 201, 'valid YAML passes strict validation')
})

t.test('a pack header has the types the API promises, whatever a pack accepted with warnings holds', async (t) => {
  const app = await testApp(t)
  const odd: Array<[Record<string, unknown>, Record<string, unknown>]> = [
    [{ name: 'one-cloud', cloudTypes: 'aws' }, { cloudTypes: ['aws'], addonType: null, addonSubType: null }],
    [{ name: 'mixed-clouds', cloudTypes: ['aws', 3, null, 'gcp'], addonType: 7, addonSubType: ['x'] }, { cloudTypes: ['aws', 'gcp'], addonType: null, addonSubType: null }],
    [{ name: 'object-clouds', cloudTypes: { aws: true }, addonType: { a: 1 }, addonSubType: 'ingress' }, { cloudTypes: [], addonType: null, addonSubType: 'ingress' }],
    [{ name: 'null-clouds', cloudTypes: null, addonType: 'system app' }, { cloudTypes: [], addonType: 'system app' }],
  ]
  for (const [fields, header] of odd) {
    const pushed = await push(app, await archive(packFiles(fields)))
    t.equal(pushed.statusCode, 201, `${fields.name as string}: accepted with warnings`)
    t.ok(pushed.json().warnings.length > 0)
    const detail = await get(app, `/v1/_packs/${fields.name as string}`)
    t.equal(detail.statusCode, 200, `${fields.name as string}: its page`)
    t.match(detail.json(), header, fields.name as string)
  }
  const listed = (await get(app, '/v1/_packs')).json().packs as Array<Record<string, unknown>>
  for (const [fields, header] of odd) t.match(listed.find((p) => p.name === fields.name), header, `${fields.name as string} in the listing`)
})

t.test('pack headers stored before they were normalised are rebuilt at start-up', async (t) => {
  // An SQLite registry of schema 10 (PostgreSQL registries start at the current schema).
  const config = testConfig(t, { database: { path: join(tempDir(t), 'registry.db') } })
  const before = await buildApp(config)
  await pushPack(before, { name: 'stale', cloudTypes: 'aws' })
  // What an older registry stored: the string as pack.json had it, and no record of the migration
  // (nor of the later ones, whose tables go too: a database of schema 10).
  const { tags: _tags, ...header } = (await get(before, '/v1/_packs')).json().packs[0]
  const db = before.registry.db
  await db.prepare('UPDATE pack_headers SET header = ?').run(JSON.stringify({ ...header, cloudTypes: 'aws' }))
  const dropped = [
    'DROP TABLE pack_search', 'DROP TABLE pack_readmes', 'DROP INDEX pack_versions_addon_type', 'DROP INDEX pack_versions_group', 'DROP TABLE notification_outbox',
    'DROP TABLE notification_endpoints', 'DROP TABLE sync_origins', 'DROP INDEX events_sync_runs', 'DROP TABLE replicas', 'DROP TABLE login_failures',
    'ALTER TABLE events DROP COLUMN replica', 'ALTER TABLE upload_sessions DROP COLUMN claimed_by', 'ALTER TABLE upload_sessions DROP COLUMN claimed_until',
  ]
  for (const statement of dropped) await db.prepare(statement).run()
  await db.prepare('DELETE FROM schema_migrations WHERE version >= 11').run()
  t.equal((await get(before, '/v1/_packs')).json().packs[0].cloudTypes, 'aws', 'the listing is read as stored')
  await before.close()
  const after = await buildApp(config)
  t.teardown(() => after.close())
  t.same((await get(after, '/v1/_packs')).json().packs[0].cloudTypes, ['aws'])
})

t.test('logo.webp is a logo too: stored on its own, served as image/webp; logo.png first when both are there', async (t) => {
  const app = await testApp(t)
  const webp = Buffer.from('52494646240000005745425056503820', 'hex')
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47])
  const only = await push(app, await archive(packFiles({ name: 'webp-only' }, { 'logo.webp': webp })))
  t.equal(only.statusCode, 201)
  t.same(only.json().warnings, [], 'no logo warning')
  const pack = (await get(app, '/v1/_packs/webp-only')).json()
  t.match(pack.logoUrl, /^\/v1\/webp-only\/blobs\/sha256:[a-f0-9]{64}\?type=image\/webp$/)
  const logo = await get(app, pack.logoUrl)
  t.equal(logo.headers['content-type'], 'image/webp')
  t.same(logo.rawPayload, webp)
  const file = await get(app, '/v1/_packs/webp-only/1.0.0/files/logo.webp')
  t.equal(file.headers['content-type'], 'image/webp')
  t.same(file.rawPayload, webp)
  const dotted = await get(app, (pack.logoUrl as string).replace('image/webp', 'image.webp'))
  t.equal(dotted.statusCode, 200, 'Spectro\'s spelling of the type')
  t.equal(dotted.headers['content-type'], 'image/webp')
  t.match((await get(app, '/v1/_packs')).json().packs[0], { name: 'webp-only', logoUrl: pack.logoUrl }, 'listed with it')

  await pushPack(app, { name: 'both' }, { 'logo.png': png, 'logo.webp': webp })
  const both = (await get(app, '/v1/_packs/both')).json()
  t.match(both.logoUrl, /\?type=image\/png$/)
  t.same((await get(app, both.logoUrl)).rawPayload, png)
  t.same(Object.keys((await get(app, '/v1/_packs/both/1.0.0')).json().files).sort(), ['logo.png', 'logo.webp', 'pack.json', 'values.yaml'], 'both stored')

  const none = await push(app, await archive(packFiles({ name: 'no-logo' })))
  t.match(none.json().warnings, [{ file: 'logo.png', field: null, message: 'neither logo.png nor logo.webp is in the pack: Palette shows a placeholder instead' }])
})
