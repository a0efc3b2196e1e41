// The cases of the bad-input category (bad-input.ts runs them and counts): a setup that gives
// every route something real to point at (packs and tags on /v1, a plain OCI repository and an
// ORAS-pushed pack on /v2, upload sessions on demand), the list of every route of /v1 and /v2,
// and one generator per family of malformed requests. Each case says what a correct server does
// with it: refuse it with a 4xx (some with an exact status the contract names), handle it (any
// answer below 500: a multi-range request may be served whole), answer or drop a stalled body,
// or survive a dropped connection.

import { randomBytes as cryptoRandomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EMPTY_CONFIG, EMPTY_CONFIG_DIGEST, ORAS_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, packManifest } from '../../src/packs/oras-manifest.js'
import { json, send } from '../http.js'
import { PACK_NAMESPACE, putManifest, pushPackOci, uploadBlob } from '../oci-client.js'
import { packJson, seededPackArchive } from '../packs.js'
import { Prng, randomBytes } from '../random.js'
import { pushPackV1 } from '../v1-client.js'
import { bombPack, gzip, multipart, packEntries, paxEntry, poisonedPack, type RawEntry, rawTar, yamlBomb } from './archives.js'
import type { ChaosContext } from './context.js'
import type { Outcome, Probe } from './probe.js'
import { authorization, type ChaosServer, type User } from './server.js'
import { sha256 } from './workload.js'

const MiB = 1 << 20
const OCTET = 'application/octet-stream'
const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json'

export type Expect = 'refuse' | 'handle' | 'stall' | 'abort'

export interface Case {
  family: string
  label: string
  expect: Expect
  /** the exact statuses a refusal must have, when the contract names one */
  status?: readonly number[]
  /** a rule about the answer beyond its status: returns what is wrong */
  check?: (o: Extract<Outcome, { kind: 'answered' }>) => string | null
  make: () => Probe | Promise<Probe>
}

export interface Fixture {
  /** a /v1 pack with versions 1.0.0 and 1.1.0 and the alias "stable" */
  pack: string
  archiveDigest: string
  valuesDigest: string
  manifestDigest: string
  validArchive: (version: string) => Promise<Buffer>
  /** a plain OCI repository with a 379-byte blob, the empty config and manifest "v1" */
  plain: string
  blob: { digest: string; size: number; bytes: Buffer }
  plainManifestDigest: string
  /** an ORAS-pushed pack, which also holds the plain blob and chaos-good's archive as loose blobs */
  oras: string
  orasArchive: { digest: string; size: number }
  /** chaos-oras 1.5.0, uploaded as a loose blob: a newer version someone might push to a parent tag */
  orasNewer: { digest: string; size: number }
  goodArchiveSize: number
  session: (repo: string) => Promise<string>
  marker: string
}

const admin = (users: { admin: User }, headers: Record<string, string | number> = {}) => ({ authorization: authorization(users.admin), ...headers })

function manifestBody(layers: unknown[], extra: Record<string, unknown> = {}, config: unknown = { mediaType: ORAS_CONFIG_MEDIA_TYPE, digest: EMPTY_CONFIG_DIGEST, size: EMPTY_CONFIG.length }): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, config, layers, ...extra }))
}

export async function setUp(server: ChaosServer, ctx: ChaosContext): Promise<Fixture> {
  const ep = server.admin
  const sessions: string[] = []
  const push = async (name: string, version: string) => {
    const archive = await seededPackArchive(name, version, `bad-input:${name}:${version}`, 2000)
    await pushPackV1(ep, archive)
    return archive
  }
  const tag = (name: string, t: string, ref: string) =>
    send(ep, { method: 'PUT', url: `/v1/_packs/${name}/_tags/${t}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ref }), expect: [201] })
  const good = await push('chaos-good', '1.0.0')
  await push('chaos-good', '1.1.0')
  await tag('chaos-good', 'stable', '1.0.0')
  for (const suffix of ['a', 'b', 'c']) {
    await push(`chaos-del-${suffix}`, '1.0.0')
    await push(`chaos-del-${suffix}`, '1.1.0')
  }
  await tag('chaos-del-c', 'stable', '1.0.0')
  const detail = json<{ digest: string; manifestDigest: string; files: Record<string, { digest: string }> }>(
    await send(ep, { method: 'GET', url: '/v1/_packs/chaos-good/1.0.0', expect: [200] }),
  )
  const bytes = randomBytes('bad-input:plain-blob', 379)
  const blob = { digest: sha256(bytes), size: bytes.length, bytes }
  await uploadBlob(ep, 'chaos/plain', blob.digest, bytes, bytes.length)
  await uploadBlob(ep, 'chaos/plain', EMPTY_CONFIG_DIGEST, EMPTY_CONFIG, EMPTY_CONFIG.length)
  const plainManifest = manifestBody([{ mediaType: OCTET, digest: blob.digest, size: blob.size }])
  await putManifest(ep, 'chaos/plain', 'v1', plainManifest)
  const orasBytes = await seededPackArchive('chaos-oras', '1.0.0', 'bad-input:oras', 2000)
  const orasPath = join(ctx.dir, 'chaos-oras.tar.gz')
  writeFileSync(orasPath, orasBytes)
  const orasArchive = { digest: sha256(orasBytes), size: orasBytes.length }
  await pushPackOci(ep, { name: 'chaos-oras', version: '1.0.0', path: orasPath, ...orasArchive })
  const oras = `${PACK_NAMESPACE}/chaos-oras`
  await uploadBlob(ep, oras, blob.digest, bytes, bytes.length)
  await uploadBlob(ep, oras, detail.digest, good, good.length)
  const newer = await seededPackArchive('chaos-oras', '1.5.0', 'bad-input:oras-newer', 2000)
  const orasNewer = { digest: sha256(newer), size: newer.length }
  await uploadBlob(ep, oras, orasNewer.digest, newer, newer.length)
  return {
    pack: 'chaos-good',
    archiveDigest: detail.digest,
    valuesDigest: (detail.files['values.yaml'] as { digest: string }).digest,
    manifestDigest: detail.manifestDigest,
    validArchive: (version) => seededPackArchive('chaos-bad', version, `bad-input:valid:${version}`, 1000),
    plain: 'chaos/plain',
    blob,
    plainManifestDigest: sha256(plainManifest),
    oras,
    orasArchive,
    orasNewer,
    goodArchiveSize: good.length,
    session: async (repo) => {
      const answer = await send(ep, { method: 'POST', url: `/v2/${repo}/blobs/uploads/`, expect: [202] })
      const location = answer.headers.location as string
      sessions.push(location)
      return location
    },
    marker: `chaos-escape-${cryptoRandomBytes(4).toString('hex')}`,
  }
}

/** Versions for pushes that must not collide with one another (a collision would be a 409 hiding the case). */
let versionCounter = 0
const nextVersion = () => `6.6.${versionCounter++}`

const BOUNDARY = 'chaos-boundary'

function pushProbe(users: { admin: User }, archive: Buffer, fields: Record<string, string> = {}, filename = 'pack.tar.gz'): Probe {
  const body = multipart(BOUNDARY, [...Object.entries(fields).map(([name, data]) => ({ name, data })), { name: 'archive', filename, contentType: 'application/gzip', data: archive }])
  return { method: 'POST', path: '/v1/_packs', headers: admin(users, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }), body }
}

// ---------------------------------------------------------------------------------------------
// Routes: every route of /v1 and /v2, with a valid request for the admin.

interface RouteSpec {
  label: string
  write: boolean
  /** the route exists today (a read-only user must then get exactly 403 on a write) */
  exists: boolean
  make: () => Promise<{ method: string; path: string; body?: Buffer; headers?: Record<string, string | number> }>
}

function routes(f: Fixture): RouteSpec[] {
  const r = (label: string, write: boolean, make: RouteSpec['make'], exists = true): RouteSpec => ({ label, write, exists, make })
  const get = (path: string) => async () => ({ method: 'GET', path })
  const manifest = manifestBody([{ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size }], { annotations: { case: 'route' } })
  const json = { 'content-type': 'application/json' }
  return [
    r('GET /v1/', false, get('/v1/')),
    r('GET /v1/_catalog', false, get('/v1/_catalog')),
    r('GET /v1/_packs', false, get('/v1/_packs?name=chaos')),
    r('POST /v1/_packs', true, async () => {
      const body = multipart(BOUNDARY, [{ name: 'archive', filename: 'p.tar.gz', data: await f.validArchive(nextVersion()) }])
      return { method: 'POST', path: '/v1/_packs', body, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }
    }),
    r('GET /v1/_packs/{name}', false, get(`/v1/_packs/${f.pack}`)),
    r('GET /v1/_packs/{name}/{ref}', false, get(`/v1/_packs/${f.pack}/1.0.0`)),
    r('GET /v1/_packs/{name}/{ref}/archive', false, get(`/v1/_packs/${f.pack}/1.0.0/archive`)),
    r('GET /v1/_packs/{name}/{ref}/files/{path}', false, get(`/v1/_packs/${f.pack}/1.0.0/files/values.yaml`)),
    r('PUT /v1/_packs/{name}/_tags/{tag}', true, async () => ({ method: 'PUT', path: `/v1/_packs/${f.pack}/_tags/cand`, body: Buffer.from('{"ref":"1.0.0"}'), headers: json })),
    r('DELETE /v1/_packs/{name}/_tags/{tag}', true, async () => ({ method: 'DELETE', path: `/v1/_packs/${f.pack}/_tags/stable` })),
    r('DELETE /v1/_packs/{name}/{ref}', true, async () => ({ method: 'DELETE', path: `/v1/_packs/${f.pack}/1.1.0` })),
    r('GET /v1/{name}/tags/list', false, get(`/v1/${f.pack}/tags/list`)),
    r('GET /v1/{name}/manifests/{ref}', false, get(`/v1/${f.pack}/manifests/1.0.0`)),
    r('HEAD /v1/{name}/manifests/{ref}', false, async () => ({ method: 'HEAD', path: `/v1/${f.pack}/manifests/1.0.0` })),
    r('GET /v1/{name}/blobs/{digest}', false, get(`/v1/${f.pack}/blobs/${f.valuesDigest}`)),
    r('POST /v1/{name}/blobs/uploads/', true, async () => ({ method: 'POST', path: `/v1/${f.pack}/blobs/uploads/` }), false),
    r('PUT /v1/{name}/manifests/{ref}', true, async () => ({ method: 'PUT', path: `/v1/${f.pack}/manifests/9.9.9`, body: manifest, headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE } }), false),
    r('DELETE /v1/{name}/manifests/{ref}', true, async () => ({ method: 'DELETE', path: `/v1/${f.pack}/manifests/${f.manifestDigest}` }), false),
    r('GET /v2/', false, get('/v2/')),
    r('GET /v2/_catalog', false, get('/v2/_catalog')),
    r('GET /v2/{name}/manifests/{ref}', false, get(`/v2/${f.plain}/manifests/v1`)),
    r('HEAD /v2/{name}/manifests/{ref}', false, async () => ({ method: 'HEAD', path: `/v2/${f.plain}/manifests/v1` })),
    r('GET /v2/{pack}/manifests/{ref}', false, get(`/v2/${f.oras}/manifests/1.0.0`)),
    r('GET /v2/{name}/blobs/{digest}', false, get(`/v2/${f.plain}/blobs/${f.blob.digest}`)),
    r('HEAD /v2/{name}/blobs/{digest}', false, async () => ({ method: 'HEAD', path: `/v2/${f.plain}/blobs/${f.blob.digest}` })),
    r('GET /v2/{name}/tags/list', false, get(`/v2/${f.plain}/tags/list`)),
    r('GET /v2/{name}/referrers/{digest}', false, get(`/v2/${f.plain}/referrers/${f.plainManifestDigest}`)),
    r('GET /v2/{name}/blobs/uploads/{id}', false, async () => ({ method: 'GET', path: await f.session(f.plain) })),
    r('POST /v2/{name}/blobs/uploads/', true, async () => ({ method: 'POST', path: `/v2/${f.plain}/blobs/uploads/` })),
    r('POST /v2/{name}/blobs/uploads/?digest=', true, async () => ({
      method: 'POST',
      path: `/v2/${f.plain}/blobs/uploads/?digest=${f.blob.digest}`,
      body: f.blob.bytes,
      headers: { 'content-type': OCTET },
    })),
    r('POST /v2/{name}/blobs/uploads/?mount=', true, async () => ({ method: 'POST', path: `/v2/${f.plain}/blobs/uploads/?mount=${f.orasArchive.digest}&from=${f.oras}` })),
    r('PATCH /v2/{name}/blobs/uploads/{id}', true, async () => ({ method: 'PATCH', path: await f.session(f.plain), body: Buffer.from('abc'), headers: { 'content-type': OCTET } })),
    r('PUT /v2/{name}/blobs/uploads/{id}', true, async () => ({
      method: 'PUT',
      path: `${await f.session(f.plain)}?digest=${f.blob.digest}`,
      body: f.blob.bytes,
      headers: { 'content-type': OCTET },
    })),
    r('PUT /v2/{name}/manifests/{ref}', true, async () => ({ method: 'PUT', path: `/v2/${f.plain}/manifests/v2`, body: manifest, headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE } })),
    r('PUT /v2/{pack}/manifests/{ref}', true, async () => ({
      method: 'PUT',
      path: `/v2/${f.oras}/manifests/1.0.0`,
      body: packManifest(f.orasArchive, 'chaos-oras-1.0.0.tar.gz').content,
      headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE },
    })),
    r('DELETE /v2/{name}/manifests/{ref}', true, async () => ({ method: 'DELETE', path: `/v2/${f.plain}/manifests/v1` })),
    r('DELETE /v2/{pack}/manifests/{ref}', true, async () => ({ method: 'DELETE', path: `/v2/${f.oras}/manifests/1.0.0` })),
    r('DELETE /v2/{name}/blobs/{digest}', true, async () => ({ method: 'DELETE', path: `/v2/${f.plain}/blobs/${f.blob.digest}` })),
    r('DELETE /v2/{name}/blobs/uploads/{id}', true, async () => ({ method: 'DELETE', path: await f.session(f.plain) })),
  ]
}

// ---------------------------------------------------------------------------------------------
// Families of cases.

let addressCounter = 0
/** A fresh client address for each failed login: 127.2.0.1, 127.2.0.2, ... */
const freshAddress = () => {
  addressCounter++
  return `127.2.${addressCounter >> 8}.${addressCounter & 255}`
}

function credentialCases(f: Fixture, users: { admin: User }): Case[] {
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const variants: Array<[string, string | null]> = [
    ['no credentials', null],
    ['garbled base64', 'Basic !!!not*base64!!!'],
    ['no colon', `Basic ${b64('adminwithoutpassword')}`],
    ['unknown user', `Basic ${b64(`nobody-here:${users.admin.password}`)}`],
    ['wrong password', `Basic ${b64(`${users.admin.user}:wrong-${users.admin.password}`)}`],
    ['empty user name', `Basic ${b64(`:${users.admin.password}`)}`],
    ['Bearer token', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.'],
    ['8 KB of base64', `Basic ${'QUFB'.repeat(2048)}`],
  ]
  const cases: Case[] = []
  for (const route of routes(f)) {
    for (const [label, header] of variants) {
      cases.push({
        family: 'credentials',
        label: `${route.label}: ${label}`,
        expect: 'refuse',
        // A route that does not exist may say so (404) before asking who is calling.
        ...(route.exists ? { status: [401] } : {}),
        make: async () => {
          const req = await route.make()
          return { ...req, headers: { ...req.headers, ...(header ? { authorization: header } : {}) }, localAddress: freshAddress() }
        },
      })
    }
  }
  return cases
}

function readOnlyCases(f: Fixture, users: { reader: User }): Case[] {
  return routes(f)
    .filter((r) => r.write)
    .map((route) => ({
      family: 'read-only user',
      label: `${route.label} as the read-only user`,
      expect: 'refuse' as const,
      ...(route.exists ? { status: [403] } : {}),
      make: async () => {
        const req = await route.make()
        return { ...req, headers: { ...req.headers, authorization: authorization(users.reader) } }
      },
    }))
}

function get(users: { admin: User }, path: string, headers: Record<string, string> = {}): Probe {
  return { method: 'GET', path, headers: admin(users, headers) }
}

function nameCases(f: Fixture, users: { admin: User }): Case[] {
  const names = ['UPPER', 'a..b', '-x', 'x'.repeat(129), '%2e%2e', 'a%2Fb', '%00', 'p%C3%A1ck', 'a%20b', '_x', '..']
  const templates: Array<[string, (n: string) => Probe]> = [
    ['GET /v1/_packs/{name}', (n) => get(users, `/v1/_packs/${n}`)],
    ['GET /v1/_packs/{name}/{ref}', (n) => get(users, `/v1/_packs/${n}/1.0.0`)],
    ['GET /v1/_packs/{name}/{ref}/archive', (n) => get(users, `/v1/_packs/${n}/1.0.0/archive`)],
    ['GET /v1/_packs/{name}/{ref}/files/{path}', (n) => get(users, `/v1/_packs/${n}/1.0.0/files/pack.json`)],
    ['PUT /v1/_packs/{name}/_tags/{tag}', (n) => ({ method: 'PUT', path: `/v1/_packs/${n}/_tags/x1`, headers: admin(users, { 'content-type': 'application/json' }), body: Buffer.from('{"ref":"1.0.0"}') })],
    ['DELETE /v1/_packs/{name}/_tags/{tag}', (n) => ({ method: 'DELETE', path: `/v1/_packs/${n}/_tags/stable`, headers: admin(users) })],
    ['DELETE /v1/_packs/{name}/{ref}', (n) => ({ method: 'DELETE', path: `/v1/_packs/${n}/1.0.0`, headers: admin(users) })],
    ['GET /v1/{name}/tags/list', (n) => get(users, `/v1/${n}/tags/list`)],
    ['GET /v1/{name}/manifests/{ref}', (n) => get(users, `/v1/${n}/manifests/1.0.0`)],
    ['GET /v1/{name}/blobs/{digest}', (n) => get(users, `/v1/${n}/blobs/${f.valuesDigest}`)],
  ]
  const v2Names = ['UPPER/x', 'a//b', 'x'.repeat(256), `${PACK_NAMESPACE}/a/b`, `${PACK_NAMESPACE}/UPPER`, 'a/../b', '%2e%2e/x', 'a%00b']
  const v2Templates: Array<[string, (n: string) => Probe]> = [
    ['GET /v2/{name}/manifests/{ref}', (n) => get(users, `/v2/${n}/manifests/v1`)],
    ['GET /v2/{name}/blobs/{digest}', (n) => get(users, `/v2/${n}/blobs/${f.blob.digest}`)],
    ['GET /v2/{name}/tags/list', (n) => get(users, `/v2/${n}/tags/list`)],
    ['POST /v2/{name}/blobs/uploads/', (n) => ({ method: 'POST', path: `/v2/${n}/blobs/uploads/`, headers: admin(users) })],
    ['PUT /v2/{name}/manifests/{ref}', (n) => ({ method: 'PUT', path: `/v2/${n}/manifests/v1`, headers: admin(users, { 'content-type': OCI_MANIFEST_MEDIA_TYPE }), body: manifestBody([]) })],
    ['DELETE /v2/{name}/manifests/{ref}', (n) => ({ method: 'DELETE', path: `/v2/${n}/manifests/v1`, headers: admin(users) })],
  ]
  const cases: Case[] = []
  for (const [route, make] of templates) for (const n of names) cases.push({ family: 'names', label: `${route}: name ${JSON.stringify(n.slice(0, 40))}`, expect: 'refuse', make: () => make(n) })
  for (const [route, make] of v2Templates) for (const n of v2Names) cases.push({ family: 'names', label: `${route}: name ${JSON.stringify(n.slice(0, 40))}`, expect: 'refuse', make: () => make(n) })
  return cases
}

function refCases(f: Fixture, users: { admin: User }): Case[] {
  const refs = ['-bad', '.bad', 'x'.repeat(201), 'a:b', 'sha256:zz', '%2F', '%00', 'a%0Ab']
  const p = f.pack
  const templates: Array<[string, (r: string) => Probe]> = [
    ['GET /v1/_packs/{name}/{ref}', (r) => get(users, `/v1/_packs/${p}/${r}`)],
    ['GET /v1/_packs/{name}/{ref}/archive', (r) => get(users, `/v1/_packs/${p}/${r}/archive`)],
    ['GET /v1/_packs/{name}/{ref}/files/{path}', (r) => get(users, `/v1/_packs/${p}/${r}/files/pack.json`)],
    ['DELETE /v1/_packs/{name}/{ref}', (r) => ({ method: 'DELETE', path: `/v1/_packs/${p}/${r}`, headers: admin(users) })],
    ['GET /v1/{name}/manifests/{ref}', (r) => get(users, `/v1/${p}/manifests/${r}`)],
    ['PUT /v1/_packs/{name}/_tags/{tag}', (r) => ({ method: 'PUT', path: `/v1/_packs/${p}/_tags/${r}`, headers: admin(users, { 'content-type': 'application/json' }), body: Buffer.from('{"ref":"1.0.0"}') })],
    ['DELETE /v1/_packs/{name}/_tags/{tag}', (r) => ({ method: 'DELETE', path: `/v1/_packs/${p}/_tags/${r}`, headers: admin(users) })],
    ['GET /v2/{name}/manifests/{ref}', (r) => get(users, `/v2/${f.plain}/manifests/${r}`)],
    ['PUT /v2/{name}/manifests/{ref}', (r) => ({ method: 'PUT', path: `/v2/${f.plain}/manifests/${r}`, headers: admin(users, { 'content-type': OCI_MANIFEST_MEDIA_TYPE }), body: manifestBody([]) })],
    ['DELETE /v2/{name}/manifests/{ref}', (r) => ({ method: 'DELETE', path: `/v2/${f.plain}/manifests/${r}`, headers: admin(users) })],
  ]
  const cases: Case[] = []
  for (const [route, make] of templates) for (const r of refs) cases.push({ family: 'references', label: `${route}: ref ${JSON.stringify(r.slice(0, 40))}`, expect: 'refuse', make: () => make(r) })
  // Parent tags are the registry's: they cannot be set or removed by hand.
  for (const t of ['1.x', '1.0.x']) {
    cases.push({ family: 'references', label: `PUT /v1/_packs/{name}/_tags/${t} (a parent tag)`, expect: 'refuse', status: [403], make: () => templates[5]![1](t) })
    cases.push({ family: 'references', label: `DELETE /v1/_packs/{name}/_tags/${t} (a parent tag)`, expect: 'refuse', status: [403], make: () => templates[6]![1](t) })
  }
  return cases
}

function digestCases(f: Fixture, users: { admin: User }): Case[] {
  const hex = f.blob.digest.slice('sha256:'.length)
  const digests = [
    'sha256:abc',
    `sha256:${'g'.repeat(64)}`,
    `SHA256:${hex}`,
    `md5:${hex.slice(0, 32)}`,
    `sha256:${hex}a`,
    `sha512:${hex}`,
    `sha256:${'0'.repeat(64)}`,
    'sha256:',
    ':',
    'sha256:..%2F..%2Fetc%2Fpasswd',
  ]
  const templates: Array<[string, (d: string) => Probe | Promise<Probe>]> = [
    ['GET /v1/{name}/blobs/{digest}', (d) => get(users, `/v1/${f.pack}/blobs/${d}`)],
    ['GET /v1/_packs/{name}/{digest}', (d) => get(users, `/v1/_packs/${f.pack}/${d}`)],
    ['GET /v2/{name}/blobs/{digest}', (d) => get(users, `/v2/${f.plain}/blobs/${d}`)],
    ['HEAD /v2/{name}/blobs/{digest}', (d) => ({ method: 'HEAD', path: `/v2/${f.plain}/blobs/${d}`, headers: admin(users) })],
    ['DELETE /v2/{name}/blobs/{digest}', (d) => ({ method: 'DELETE', path: `/v2/${f.plain}/blobs/${d}`, headers: admin(users) })],
    ['GET /v2/{name}/referrers/{digest}', (d) => get(users, `/v2/${f.plain}/referrers/${d}`)],
    ['PUT /v2/{name}/blobs/uploads/{id}?digest=', async (d) => ({ method: 'PUT', path: `${await f.session(f.plain)}?digest=${d}`, headers: admin(users, { 'content-type': OCTET }), body: Buffer.from('abc') })],
    ['POST /v2/{name}/blobs/uploads/?digest=', (d) => ({ method: 'POST', path: `/v2/${f.plain}/blobs/uploads/?digest=${d}`, headers: admin(users, { 'content-type': OCTET }), body: Buffer.from('abc') })],
  ]
  const cases: Case[] = []
  const unknown = `sha256:${'0'.repeat(64)}`
  for (const [route, make] of templates) {
    for (const d of digests) {
      // Referrers of a manifest that is not there are an empty list (OCI distribution spec v1.1), not an error.
      const expect = d === unknown && route.includes('referrers') ? 'handle' : 'refuse'
      cases.push({ family: 'digests', label: `${route}: ${JSON.stringify(d.slice(0, 30))}`, expect, make: () => make(d) })
    }
  }
  // A mount that cannot happen falls back to an upload session (202): allowed, not a refusal.
  for (const d of digests.slice(0, 4)) {
    cases.push({
      family: 'digests',
      label: `POST /v2/{name}/blobs/uploads/?mount=${JSON.stringify(d.slice(0, 30))}`,
      expect: 'handle',
      make: () => ({ method: 'POST', path: `/v2/${f.plain}/blobs/uploads/?mount=${d}&from=../../etc`, headers: admin(users) }),
    })
  }
  return cases
}

function rangeCases(f: Fixture, users: { admin: User }): Case[] {
  const ranges = ['bytes=99999999-', 'bytes=5-2', 'bytes=abc', `bytes=${Array.from({ length: 200 }, (_, i) => `${i}-${i}`).join(',')}`, 'items=0-5', 'bytes=-0', `bytes=0-${'9'.repeat(40)}`, 'bytes=18446744073709551616-']
  const paths = [`/v1/_packs/${f.pack}/1.0.0/archive`, `/v1/${f.pack}/blobs/${f.valuesDigest}`, `/v2/${f.plain}/blobs/${f.blob.digest}`]
  const cases: Case[] = []
  for (const path of paths) {
    for (const range of ranges) {
      cases.push({ family: 'ranges', label: `GET ${path.split('/').slice(0, 3).join('/')}...: Range ${range.slice(0, 30)}`, expect: 'handle', make: () => get(users, path, { range }) })
    }
    cases.push({ family: 'ranges', label: `GET ${path.split('/').slice(0, 3).join('/')}...: If-None-Match garbage`, expect: 'handle', make: () => get(users, path, { 'if-none-match': `"${'x'.repeat(2000)}` }) })
  }
  return cases
}

function paginationCases(f: Fixture, users: { admin: User }): Case[] {
  const params: Array<[string, Expect]> = [
    ['n=-1', 'refuse'],
    ['n=abc', 'refuse'],
    ['n=1.5', 'refuse'],
    ['n=99999999999999999999', 'handle'],
    ['n=0', 'handle'],
    [`last=${'x'.repeat(5000)}`, 'refuse'],
    ['foo=bar', 'handle'],
    ['n=1&n=2', 'handle'],
    ['last=%00', 'handle'],
    ['n=', 'handle'],
  ]
  const paths = ['/v1/_catalog', '/v1/_packs', '/v2/_catalog', `/v2/${f.plain}/tags/list`, `/v2/${f.plain}/referrers/${f.plainManifestDigest}`]
  const cases: Case[] = []
  for (const path of paths) for (const [query, expect] of params) cases.push({ family: 'pagination', label: `GET ${path.slice(0, 40)}?${query.slice(0, 30)}`, expect, make: () => get(users, `${path}?${query}`) })
  return cases
}

async function archiveCases(f: Fixture, ctx: ChaosContext): Promise<Case[]> {
  const users = ctx.users
  const cases: Case[] = []
  const add = (label: string, expect: Expect, archive: () => Promise<Buffer> | Buffer) =>
    cases.push({ family: 'archives', label: `POST /v1/_packs: ${label}`, expect, make: async () => pushProbe(users, await archive()) })
  const valid = async () => f.validArchive(nextVersion())
  /** A valid pack plus the entries `extra` makes for its top folder. */
  const pack = (extra: (top: string) => RawEntry[], overrides: { packJson?: Buffer; values?: Buffer } = {}) => {
    const version = nextVersion()
    return poisonedPack('chaos-bad', version, extra(`chaos-bad-${version}`), overrides)
  }
  const none = () => []
  const packJsonOf = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ name: 'chaos-bad', version: '6.6.6', layer: 'addon', ...fields }))
  const m = f.marker

  add('an empty file', 'refuse', () => Buffer.alloc(0))
  add('4 KB of random bytes', 'refuse', () => randomBytes('archive:random', 4096))
  add('a plain tar, not gzip', 'refuse', () => rawTar(packEntries('chaos-bad', nextVersion())))
  for (const cut of [10, 100]) add(`gzip cut after ${cut} bytes`, 'refuse', async () => (await valid()).subarray(0, cut))
  add('gzip cut in the middle', 'refuse', async () => {
    const a = await valid()
    return a.subarray(0, a.length >> 1)
  })
  add('gzip without its 8-byte trailer', 'refuse', async () => {
    const a = await valid()
    return a.subarray(0, a.length - 8)
  })
  add('gzip with a wrong CRC', 'refuse', async () => {
    const a = Buffer.from(await valid())
    a[a.length - 8] = (a[a.length - 8] as number) ^ 0xff
    return a
  })
  add('gzip of random bytes', 'refuse', () => gzip(randomBytes('archive:gzip-random', 20_000)))
  add('a zip file', 'refuse', () => Buffer.concat([Buffer.from('PK\u0003\u0004'), randomBytes('zip', 2000)]))
  add('a bzip2 file', 'refuse', () => Buffer.concat([Buffer.from('BZh91AY&SY'), randomBytes('bz2', 2000)]))
  add('an xz file', 'refuse', () => Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), randomBytes('xz', 2000)]))
  add('a tar without its end-of-archive marker', 'refuse', () => gzip(rawTar(packEntries('chaos-bad', nextVersion()), { end: false })))
  add('data after the end-of-archive marker', 'refuse', () => gzip(rawTar(packEntries('chaos-bad', nextVersion()), { trailing: randomBytes('trailing', 4096) })))
  add('a second gzip member of zeros after the archive', 'handle', async () => Buffer.concat([await valid(), gzip(Buffer.alloc(10_000))]))
  add('gzip bomb: 200 MiB of zeros inside a valid pack', 'refuse', () => bombPack('chaos-bad', nextVersion(), 200 * MiB))
  if (ctx.settings.badInput.bombBytes > 200 * MiB) {
    add(`gzip bomb: ${ctx.settings.badInput.bombBytes / MiB} MiB of zeros inside a valid pack`, 'refuse', () => bombPack('chaos-bad', nextVersion(), ctx.settings.badInput.bombBytes))
  }
  add('gzip of 200 MiB of zeros, no tar at all', 'refuse', () => gzip(Buffer.alloc(200 * MiB)))
  add('tar bomb: 100,001 entries', 'refuse', () => {
    const version = nextVersion()
    const top = `chaos-bad-${version}`
    const extra: RawEntry[] = Array.from({ length: 100_001 }, (_, i) => ({ name: `${top}/f/${i}` }))
    return gzip(rawTar([...packEntries('chaos-bad', version), ...extra]))
  })
  add('an entry declaring 5 GiB, then the archive ends', 'refuse', () => {
    const version = nextVersion()
    const tar = rawTar([...packEntries('chaos-bad', version), { name: `chaos-bad-${version}/huge`, declaredSize: 5 * 1024 * MiB }], { end: false })
    return gzip(Buffer.concat([tar, Buffer.alloc(64 * 1024)]))
  })
  add('an entry with a wrong header checksum', 'refuse', () => pack((top) => [{ name: `${top}/bad-checksum`, data: Buffer.from('x'), checksumError: 7 }]))
  const escaped = Buffer.from('escaped')
  for (const [label, name] of [
    ['a ../ entry', (_: string) => `../${m}`],
    ['a TOP/../../ entry', (top: string) => `${top}/../../${m}`],
    ['an absolute /tmp entry', (_: string) => `/tmp/${m}`],
    ['a ./../ entry', (_: string) => `./../${m}`],
    ['a backslash traversal', (top: string) => `${top}\\..\\..\\${m}`],
    ['an empty name', (_: string) => ''],
  ] as const) {
    add(`traversal: ${label}`, 'refuse', () => pack((top) => [{ name: name(top), data: escaped }]))
  }
  add('traversal: a pax path record', 'refuse', () => pack((top) => [paxEntry({ path: `../../${m}` }), { name: `${top}/innocent`, data: escaped }]))
  add('a NUL in a pax path', 'refuse', () => pack((top) => [paxEntry({ path: `${top}/a\u0000b` }), { name: `${top}/innocent`, data: escaped }]))
  add('traversal: a GNU long name', 'refuse', () => pack((top) => [{ name: '././@LongLink', type: 'L', data: Buffer.from(`../../../${m}\u0000`) }, { name: `${top}/innocent`, data: escaped }]))
  add('a symlink to /etc/passwd', 'refuse', () => pack((top) => [{ name: `${top}/values-link.yaml`, type: '2', linkname: '/etc/passwd' }]))
  add('a symlink out of the pack, then a file through it', 'refuse', () =>
    pack((top) => [
      { name: `${top}/up`, type: '2', linkname: '../../../../tmp' },
      { name: `${top}/up/${m}`, data: escaped },
    ]),
  )
  add('a hard link to /etc/passwd', 'refuse', () => pack((top) => [{ name: `${top}/hard`, type: '1', linkname: '/etc/passwd' }]))
  add('a character device', 'refuse', () => pack((top) => [{ name: `${top}/tty`, type: '3' }]))
  add('a block device', 'refuse', () => pack((top) => [{ name: `${top}/sda`, type: '4' }]))
  add('a fifo', 'refuse', () => pack((top) => [{ name: `${top}/fifo`, type: '6' }]))
  add('an unknown entry type', 'refuse', () => pack((top) => [{ name: `${top}/odd`, type: 'Z', data: Buffer.from('?') }]))
  add('a contiguous file (type 7)', 'handle', () => pack((top) => [{ name: `${top}/contiguous`, type: '7', data: Buffer.from('fine') }]))
  add('a pax path of 64 KB', 'handle', () => pack((top) => [paxEntry({ path: `${top}/${'d/'.repeat(32_000)}f` }), { name: `${top}/long`, data: Buffer.from('?') }]))
  add('no pack.json', 'refuse', () => gzip(rawTar([{ name: 'p/', type: '5' }, { name: 'p/values.yaml', data: Buffer.from('a: 1\n') }])))
  add('pack.json that is not JSON', 'refuse', () => pack(none, { packJson: Buffer.from('{"name": "chaos-bad", ') }))
  add('pack.json that is an array', 'refuse', () => pack(none, { packJson: Buffer.from('[1,2,3]') }))
  add('pack.json that is null', 'refuse', () => pack(none, { packJson: Buffer.from('null') }))
  add('pack.json nested 100,000 arrays deep', 'refuse', () => pack(none, { packJson: Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) }))
  add('pack.json nested 50,000 objects deep', 'refuse', () => pack(none, { packJson: Buffer.from(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`) }))
  add('pack.json of 17 MiB (over limits.filesize)', 'refuse', () => pack(none, { packJson: packJsonOf({ description: 'x'.repeat(17 * MiB) }) }))
  add('pack.json of 2 MiB with 100,000 keys', 'handle', () => {
    const version = nextVersion()
    const extra = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]))
    return poisonedPack('chaos-bad', version, [], { packJson: Buffer.from(JSON.stringify({ ...JSON.parse(packJson('chaos-bad', version, null)), extra })) })
  })
  for (const [label, fields] of [
    ['name "../evil"', { name: '../evil' }],
    ['name in capitals', { name: 'CHAOS' }],
    ['an empty name', { name: '' }],
    ['a name of 129 characters', { name: 'x'.repeat(129) }],
    ['a numeric name', { name: 42 }],
    ['version "../../x"', { version: '../../x' }],
    ['an empty version', { version: '' }],
    ['a version of 200 characters', { version: '1'.repeat(200) }],
    ['a version with a newline', { version: '1.0.0\nX-Injected: 1' }],
    ['a group with "__"', { group: 'a__b' }],
  ] as const) {
    add(`pack.json with ${label}`, 'refuse', () => pack(none, { packJson: packJsonOf(fields) }))
  }
  // A layer the registry does not know is a warning (the stock registry serves such packs).
  add('pack.json with layer 42', 'handle', () => pack(none, { packJson: packJsonOf({ layer: 42 }) }))
  add('pack.json with a __proto__ key', 'handle', () => {
    const version = nextVersion()
    return poisonedPack('chaos-bad', version, [], { packJson: Buffer.from(`{"__proto__":{"polluted":true},${packJson('chaos-bad', version, null).slice(1)}`) })
  })
  add('two top-level folders with a pack.json each', 'refuse', () =>
    gzip(rawTar([...packEntries('chaos-bad', nextVersion()), ...packEntries('chaos-bad', nextVersion()).map((e) => ({ ...e, name: `other-${e.name}` }))])),
  )
  add('pack.json two levels deep', 'refuse', () => gzip(rawTar(packEntries('chaos-bad', nextVersion()).map((e) => ({ ...e, name: `outer/${e.name}` })))))
  add('pack.json twice, with different content', 'handle', () => {
    const version = nextVersion()
    const entries = packEntries('chaos-bad', version)
    return gzip(rawTar([...entries, { name: `chaos-bad-${version}/pack.json`, data: packJsonOf({ version: '9.9.9', description: 'second' }) }]))
  })
  add('a YAML bomb in values.yaml', 'handle', () => pack(none, { values: yamlBomb() }))
  add('a YAML bomb in presets.yaml', 'handle', () => pack((top) => [{ name: `${top}/presets.yaml`, data: yamlBomb() }]))
  add('a YAML bomb in schema.yaml', 'handle', () => pack((top) => [{ name: `${top}/schema.yaml`, data: yamlBomb() }]))
  add('values.yaml of 17 MiB (over limits.filesize)', 'refuse', () => pack(none, { values: Buffer.alloc(17 * MiB, 'a: 1\n') }))
  add('logo.png of 17 MiB (over limits.filesize)', 'refuse', () => pack((top) => [{ name: `${top}/logo.png`, data: Buffer.alloc(17 * MiB, 7) }]))
  add('README.md of 17 MiB (over limits.filesize)', 'refuse', () => pack((top) => [{ name: `${top}/README.md`, data: Buffer.alloc(17 * MiB, '#') }]))
  return cases
}

function multipartCases(f: Fixture, users: { admin: User }): Case[] {
  const cases: Case[] = []
  const head = (boundary: string) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="archive"; filename="a.tgz"\r\n\r\n`)
  const post = (contentType: string | null, body: Buffer | (() => Promise<Buffer>), extra: Record<string, string> = {}): (() => Promise<Probe>) => async () => ({
    method: 'POST',
    path: '/v1/_packs',
    headers: admin(users, { ...(contentType ? { 'content-type': contentType } : {}), ...extra }),
    body: Buffer.isBuffer(body) ? body : await body(),
  })
  const form = `multipart/form-data; boundary=${BOUNDARY}`
  const add = (label: string, expect: Expect, make: () => Promise<Probe>) => cases.push({ family: 'multipart', label: `POST /v1/_packs: ${label}`, expect, make })
  const valid = () => f.validArchive(nextVersion())
  add('the truncated-multipart reproduction (gzip magic, no closing boundary)', 'refuse', post(form, Buffer.concat([head(BOUNDARY), Buffer.from([0x1f, 0x8b, 0x08, 0x00])])))
  add('the file part cut after 100 bytes', 'refuse', post(form, async () => Buffer.concat([head(BOUNDARY), (await valid()).subarray(0, 100)])))
  add('a whole archive without the closing boundary', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: await valid() }], { close: false })))
  add('the reproduction sent chunked', 'refuse', post(form, Buffer.concat([head(BOUNDARY), Buffer.from([0x1f, 0x8b, 0x08, 0x00])]), { 'transfer-encoding': 'chunked' }))
  add('multipart without boundary=', 'refuse', post('multipart/form-data', async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('an empty boundary', 'refuse', post('multipart/form-data; boundary=', async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('a boundary that is not the one in the body', 'refuse', post('multipart/form-data; boundary=other', async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('a boundary of 1,000 characters', 'refuse', post(`multipart/form-data; boundary=${'b'.repeat(1000)}`, Buffer.from('--x\r\n')))
  add('an empty body', 'refuse', post(form, Buffer.alloc(0)))
  add('only the closing boundary', 'refuse', post(form, Buffer.from(`--${BOUNDARY}--\r\n`)))
  add('fields but no archive', 'refuse', post(form, multipart(BOUNDARY, [{ name: 'force', data: 'true' }, { name: 'message', data: 'm' }])))
  add('two archive parts', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: await valid() }, { name: 'archive', filename: 'b.tgz', data: await valid() }])))
  add('the archive in a part named "file"', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'file', filename: 'a.tgz', data: await valid() }])))
  add('the archive as a text field', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'archive', data: (await valid()).toString('latin1') }])))
  add('force=maybe', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'force', data: 'maybe' }, { name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('force=true without a message', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'force', data: 'true' }, { name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('skipDigestCheck=2', 'refuse', post(form, async () => multipart(BOUNDARY, [{ name: 'skipDigestCheck', data: '2' }, { name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('20 fields', 'refuse', post(form, async () => multipart(BOUNDARY, [...Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: 'x' })), { name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('a message of 100 KB', 'handle', post(form, async () => multipart(BOUNDARY, [{ name: 'message', data: 'm'.repeat(100_000) }, { name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('a part header of 10 KB', 'handle', post(form, async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', contentType: `application/gzip; x=${'y'.repeat(10_000)}`, data: await valid() }])))
  add('a part without Content-Disposition', 'refuse', post(form, async () => Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/gzip\r\n\r\n`), await valid(), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)])))
  add('bare LF line endings', 'refuse', post(form, async () => Buffer.from(multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: 'not an archive' }]).toString('latin1').replace(/\r\n/g, '\n'), 'latin1')))
  add('a filename with ../ (the archive is valid)', 'handle', post(form, async () => multipart(BOUNDARY, [{ name: 'archive', filename: `../../${f.marker}.tgz`, data: await valid() }])))
  add('Content-Type application/json', 'refuse', post('application/json', Buffer.from('{"archive":"x"}')))
  add('Content-Type text/plain', 'refuse', post('text/plain', Buffer.from('archive')))
  add('no Content-Type', 'refuse', post(null, Buffer.from('archive')))
  add('Content-Type multipart/mixed', 'refuse', post(`multipart/mixed; boundary=${BOUNDARY}`, async () => multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: await valid() }])))
  add('a urlencoded form', 'refuse', post('application/x-www-form-urlencoded', Buffer.from('archive=H4sIAAAA&force=true')))
  add('Content-Type application/gzip with the bare archive', 'refuse', post('application/gzip', valid))
  return cases
}

function tagBodyCases(f: Fixture, users: { admin: User }): Case[] {
  let n = 0
  const put = (body: Buffer | null, contentType: string | null = 'application/json', tag?: string): (() => Probe) => () => ({
    method: 'PUT',
    path: `/v1/_packs/${f.pack}/_tags/${tag ?? `json-${n++}`}`,
    headers: admin(users, contentType ? { 'content-type': contentType } : {}),
    ...(body ? { body } : {}),
  })
  const cases: Array<[string, Expect, () => Probe]> = [
    ['a body that is not JSON', 'refuse', put(Buffer.from('{"ref": '))],
    ['a text/plain body', 'refuse', put(Buffer.from('1.0.0'), 'text/plain')],
    ['no body', 'refuse', put(null)],
    ['no body and no Content-Type', 'refuse', put(null, null)],
    ['[]', 'refuse', put(Buffer.from('[]'))],
    ['{}', 'refuse', put(Buffer.from('{}'))],
    ['{"ref":5}', 'refuse', put(Buffer.from('{"ref":5}'))],
    ['{"ref":""}', 'refuse', put(Buffer.from('{"ref":""}'))],
    ['{"ref":"nope"}', 'refuse', put(Buffer.from('{"ref":"nope"}'))],
    ['a ref of 10,000 characters', 'refuse', put(Buffer.from(JSON.stringify({ ref: 'x'.repeat(10_000) })))],
    ['a ref that is a malformed digest', 'refuse', put(Buffer.from('{"ref":"sha256:1234"}'))],
    ['a body of 2 MiB (over limits.bodysize)', 'refuse', put(Buffer.from(JSON.stringify({ ref: '1.0.0', pad: 'x'.repeat(2 * MiB) })))],
    ['JSON nested 100,000 deep', 'refuse', put(Buffer.from(`{"ref":${'['.repeat(100_000)}${']'.repeat(100_000)}}`))],
    ['a tag of 200 characters', 'refuse', put(Buffer.from('{"ref":"1.0.0"}'), 'application/json', 't'.repeat(200))],
    ['a tag ending in .x (reserved)', 'refuse', put(Buffer.from('{"ref":"1.0.0"}'), 'application/json', 'mine.x')],
    ['a __proto__ key', 'handle', put(Buffer.from('{"ref":"1.0.0","__proto__":{"polluted":true}}'))],
    ['a charset that is not UTF-8', 'handle', put(Buffer.from('{"ref":"1.0.0"}'), 'application/json; charset=utf-16')],
  ]
  return cases.map(([label, expect, make]) => ({ family: 'tag bodies', label: `PUT /v1/_packs/{name}/_tags/{tag}: ${label}`, expect, make }))
}

function manifestCases(f: Fixture, users: { admin: User }): Case[] {
  let n = 0
  const put = (repo: string, body: Buffer, contentType: string | null = OCI_MANIFEST_MEDIA_TYPE, extra: Record<string, string | number> = {}, reference?: string): (() => Probe) => () => ({
    method: 'PUT',
    path: `/v2/${repo}/manifests/${reference ?? `m-${n++}`}`,
    headers: admin(users, { ...(contentType ? { 'content-type': contentType } : {}), ...extra }),
    body,
  })
  const layer = (fields: Record<string, unknown>) => manifestBody([{ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size, ...fields }])
  const artifact = manifestBody([{ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size }], { artifactType: 'application/vnd.example.signature' })
  const plain = f.plain
  const cases: Array<[string, Expect, () => Probe, (readonly number[])?]> = [
    ['layer size 1 for a 379-byte blob', 'refuse', put(plain, layer({ size: 1 }))],
    ['layer size 1e15', 'refuse', put(plain, layer({ size: 1e15 }))],
    ['layer size 0', 'refuse', put(plain, layer({ size: 0 }))],
    ['layer size one byte too many', 'refuse', put(plain, layer({ size: f.blob.size + 1 }))],
    ['layer size -1', 'refuse', put(plain, layer({ size: -1 }))],
    ['layer size 1.5', 'refuse', put(plain, layer({ size: 1.5 }))],
    ['layer size as a string', 'refuse', put(plain, layer({ size: String(f.blob.size) }))],
    ['config size wrong', 'refuse', put(plain, manifestBody([{ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size }], {}, { mediaType: ORAS_CONFIG_MEDIA_TYPE, digest: EMPTY_CONFIG_DIGEST, size: 99 }))],
    ['a layer that was never uploaded', 'refuse', put(plain, layer({ digest: `sha256:${'1'.repeat(64)}` }))],
    ['a layer digest that is malformed', 'refuse', put(plain, layer({ digest: 'sha256:xyz' }))],
    ['a layer without mediaType', 'refuse', put(plain, manifestBody([{ digest: f.blob.digest, size: f.blob.size }]))],
    ['not JSON', 'refuse', put(plain, Buffer.from('{"schemaVersion": 2,'))],
    ['a JSON array', 'refuse', put(plain, Buffer.from('[]'))],
    ['{}', 'refuse', put(plain, Buffer.from('{}'))],
    ['an empty body', 'refuse', put(plain, Buffer.alloc(0))],
    ['schemaVersion 1', 'refuse', put(plain, Buffer.from(JSON.stringify({ schemaVersion: 1, name: plain, tag: 'x', fsLayers: [] })), 'application/vnd.docker.distribution.manifest.v1+json')],
    ['schemaVersion "2"', 'refuse', put(plain, Buffer.from(manifestBody([]).toString().replace('"schemaVersion":2', '"schemaVersion":"2"')))],
    ['layers that is not an array', 'refuse', put(plain, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, config: { mediaType: ORAS_CONFIG_MEDIA_TYPE, digest: EMPTY_CONFIG_DIGEST, size: 2 }, layers: 'x' })))],
    ['no config', 'refuse', put(plain, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, layers: [] })))],
    ['an annotation that is not a string', 'refuse', put(plain, manifestBody([], { annotations: { a: 1 } }))],
    ['Content-Type text/plain and no mediaType in the body', 'refuse', put(plain, Buffer.from(manifestBody([]).toString().replace(`"mediaType":"${OCI_MANIFEST_MEDIA_TYPE}",`, '')), 'text/plain')],
    ['Content-Type of an index for an image manifest', 'refuse', put(plain, manifestBody([]), INDEX_MEDIA_TYPE)],
    ['Content-Type application/json', 'handle', put(plain, manifestBody([]), 'application/json')],
    ['no Content-Type', 'handle', put(plain, manifestBody([]), null)],
    ['a manifest of 5 MiB (over limits.manifestsize)', 'refuse', put(plain, manifestBody([], { annotations: { pad: 'x'.repeat(5 * MiB) } }))],
    ['a manifest of 5 MiB sent chunked', 'refuse', put(plain, manifestBody([], { annotations: { pad: 'x'.repeat(5 * MiB) } }), OCI_MANIFEST_MEDIA_TYPE, { 'transfer-encoding': 'chunked' })],
    ['JSON nested 100,000 deep', 'refuse', put(plain, Buffer.from(`{"schemaVersion":2,"layers":${'['.repeat(100_000)}${']'.repeat(100_000)}}`))],
    ['10,000 layers', 'handle', put(plain, manifestBody(Array.from({ length: 10_000 }, () => ({ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size }))))],
    ['a subject that does not exist', 'handle', put(plain, manifestBody([], { subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: `sha256:${'2'.repeat(64)}`, size: 10 } }))],
    ['a digest reference that is not the body\'s digest', 'refuse', put(plain, manifestBody([]), OCI_MANIFEST_MEDIA_TYPE, {}, `sha256:${'3'.repeat(64)}`)],
    // A pack repository keeps any valid manifest: one that is not a pack is an artifact.
    ['pack: a layer that is not a pack archive', 'handle', put(f.oras, manifestBody([{ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size, annotations: { 'org.opencontainers.image.title': 'x-1.0.0.tar.gz' } }]))],
    ['pack: the archive layer\'s size one byte too many', 'refuse', put(f.oras, packManifest({ digest: f.orasArchive.digest, size: f.orasArchive.size + 1 }, 'chaos-oras-1.0.0.tar.gz').content)],
    ['pack: the archive layer\'s size 1', 'refuse', put(f.oras, packManifest({ digest: f.orasArchive.digest, size: 1 }, 'chaos-oras-1.0.0.tar.gz').content)],
    ['pack: the archive of another pack', 'refuse', put(f.oras, packManifest({ digest: f.archiveDigest, size: f.goodArchiveSize }, 'chaos-good-1.0.0.tar.gz').content)],
    ['pack: an image index', 'handle', put(f.oras, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [] })), INDEX_MEDIA_TYPE)],
    // Parent tags are the registry's on /v2 too: pushing a newer version to one must not move it.
    ['pack: chaos-oras 1.5.0 pushed to the parent tag 1.x', 'refuse', put(f.oras, packManifest(f.orasNewer, 'chaos-oras-1.5.0.tar.gz').content, OCI_MANIFEST_MEDIA_TYPE, {}, '1.x')],
    // A tag that holds a pack version is the pack's: what signing and SBOM tools push (one
    // application/octet-stream layer) must not replace the version, on /v2 or on /v1.
    ...PACK_VERSION_TAGS.map(([surface, reference]): [string, Expect, () => Probe, readonly number[]] => [
      `pack: an artifact (one ${OCTET} layer) pushed to ${surface} ${reference}, a tag of a pack version`,
      'refuse',
      () => ({ ...put(f.oras, artifact, OCI_MANIFEST_MEDIA_TYPE, {}, reference)(), ...(surface === '/v1' ? { path: `/v1/${f.oras.slice(PACK_NAMESPACE.length + 1)}/manifests/${reference}` } : {}) }),
      [403],
    ]),
  ]
  return cases.map(([label, expect, make, status]) => ({ family: 'manifests', label: `PUT /v2/{name}/manifests/{ref}: ${label}`, expect, make, ...(status ? { status } : {}) }))
}

/** Tags of chaos-oras 1.0.0 (its version tag and parent tags) an artifact must not take, by surface. */
const PACK_VERSION_TAGS: ReadonlyArray<readonly ['/v1' | '/v2', string]> = [
  ['/v2', '1.0.0'],
  ['/v1', '1.0.0'],
  ['/v2', '1.0.x'],
  ['/v1', '1.x'],
]

function uploadCases(f: Fixture, users: { admin: User }): Case[] {
  const session = () => f.session(f.plain)
  const req = (method: string, path: () => Promise<string>, headers: Record<string, string | number> = {}, body?: Buffer) => async (): Promise<Probe> => ({
    method,
    path: await path(),
    headers: admin(users, { 'content-type': OCTET, ...headers }),
    ...(body ? { body } : {}),
  })
  const fixed = (path: string) => async () => path
  const uploads = `/v2/${f.plain}/blobs/uploads`
  const cases: Array<[string, Expect, () => Promise<Probe>]> = [
    ['PATCH with Content-Range "bytes=0-10" on 3 bytes', 'refuse', req('PATCH', session, { 'content-range': 'bytes=0-10' }, Buffer.from('abc'))],
    ['PATCH with Content-Range 5-2', 'refuse', req('PATCH', session, { 'content-range': '5-2' }, Buffer.from('abc'))],
    ['PATCH with Content-Range starting past the end', 'refuse', req('PATCH', session, { 'content-range': '100-102' }, Buffer.from('abc'))],
    ['PATCH with Content-Range "abc"', 'refuse', req('PATCH', session, { 'content-range': 'abc' }, Buffer.from('abc'))],
    ['PATCH with Content-Range 0-99999999999999999999', 'refuse', req('PATCH', session, { 'content-range': '0-99999999999999999999' }, Buffer.from('abc'))],
    ['PATCH to an unknown session', 'refuse', req('PATCH', fixed(`${uploads}/00000000-0000-0000-0000-000000000000`), {}, Buffer.from('abc'))],
    ['PATCH to session id ".."', 'refuse', req('PATCH', fixed(`${uploads}/..`), {}, Buffer.from('abc'))],
    ['PATCH to session id "%2e%2e%2f%2e%2e%2fregistry.db"', 'refuse', req('PATCH', fixed(`${uploads}/%2e%2e%2f%2e%2e%2fregistry.db`), {}, Buffer.from('abc'))],
    ['PATCH to a session id of 300 characters', 'refuse', req('PATCH', fixed(`${uploads}/${'a'.repeat(300)}`), {}, Buffer.from('abc'))],
    ['GET of an unknown session', 'refuse', req('GET', fixed(`${uploads}/00000000-0000-0000-0000-000000000001`))],
    ['DELETE of an unknown session', 'refuse', req('DELETE', fixed(`${uploads}/00000000-0000-0000-0000-000000000002`))],
    ['PUT without ?digest=', 'refuse', req('PUT', session, {}, Buffer.from('abc'))],
    ['PUT with a digest that is not the bytes\'', 'refuse', req('PUT', async () => `${await session()}?digest=${f.blob.digest}`, {}, Buffer.from('abc'))],
    ['PUT with Content-Length shorter than the body declared by Content-Range', 'refuse', req('PUT', async () => `${await session()}?digest=${f.blob.digest}`, { 'content-range': '0-999' }, Buffer.from('abc'))],
    ['POST ?digest= whose bytes do not match', 'refuse', req('POST', fixed(`${uploads}/?digest=${f.blob.digest}`), {}, Buffer.from('abc'))],
    ['POST ?digest= with no body', 'refuse', req('POST', fixed(`${uploads}/?digest=${f.blob.digest}`))],
    ['POST ?mount= from a repository that does not exist', 'handle', req('POST', fixed(`${uploads}/?mount=${f.blob.digest}&from=nothing/here`))],
    ['POST ?mount= without from=', 'handle', req('POST', fixed(`${uploads}/?mount=${f.blob.digest}`))],
  ]
  return cases.map(([label, expect, make]) => ({ family: 'uploads', label: `/v2 uploads: ${label}`, expect, make }))
}

function specialCases(f: Fixture, users: { admin: User }): Case[] {
  const blob = `/v1/${f.pack}/blobs/${f.valuesDigest}`
  const cases: Case[] = []
  const add = (c: Omit<Case, 'family'>) => cases.push({ family: 'special', ...c })
  add({ label: 'GET /v1/{name}/blobs/{digest}?type=text/html', expect: 'refuse', status: [400], make: () => get(users, `${blob}?type=text/html`) })
  for (const type of ['text/html;charset=utf-8', 'TEXT/HTML', 'application/xhtml+xml', 'text/xml', 'application/javascript', 'text/html%0d%0aX-Injected:%201', 'x'.repeat(1000)]) {
    add({ label: `GET /v1/{name}/blobs/{digest}?type=${type.slice(0, 40)}`, expect: 'refuse', make: () => get(users, `${blob}?type=${encodeURIComponent(decodeURIComponent(type))}`) })
  }
  add({
    label: 'GET /v1/{name}/blobs/{digest}?type=image/svg+xml (a sandboxing CSP when served)',
    expect: 'handle',
    check: (o) => (o.status < 300 && !/sandbox/.test(String(o.headers['content-security-policy'] ?? '')) ? 'served as image/svg+xml without Content-Security-Policy: sandbox' : null),
    make: () => get(users, `${blob}?type=image%2Fsvg%2Bxml`),
  })
  add({ label: 'GET /v1/{name}/blobs/{digest}?type= (empty)', expect: 'handle', make: () => get(users, `${blob}?type=`) })
  add({ label: 'DELETE /v1/_packs/{name}/1.x (a parent tag)', expect: 'refuse', status: [400], make: () => ({ method: 'DELETE', path: '/v1/_packs/chaos-del-a/1.x', headers: admin(users) }) })
  add({ label: 'DELETE /v1/_packs/{name}/1.0.x (a parent tag)', expect: 'refuse', status: [400], make: () => ({ method: 'DELETE', path: '/v1/_packs/chaos-del-b/1.0.x', headers: admin(users) }) })
  add({ label: 'DELETE /v1/_packs/{name}/stable (an alias)', expect: 'refuse', status: [400], make: () => ({ method: 'DELETE', path: '/v1/_packs/chaos-del-c/stable', headers: admin(users) }) })
  add({ label: 'DELETE /v2/{pack}/manifests/1.x (a parent tag)', expect: 'refuse', make: () => ({ method: 'DELETE', path: `/v2/${f.oras}/manifests/1.x`, headers: admin(users) }) })
  for (const [method, path] of [
    ['PUT', '/v1/_catalog'],
    ['DELETE', '/v1/_packs'],
    ['PATCH', `/v1/_packs/${f.pack}`],
    ['POST', '/v2/_catalog'],
    ['PUT', '/v2/'],
    ['POST', `/v1/${f.pack}/tags/list`],
    ['PATCH', `/v2/${f.plain}/manifests/v1`],
    ['POST', `/v2/${f.plain}/tags/list`],
  ] as const) {
    add({ label: `${method} ${path} (no such method)`, expect: 'refuse', make: () => ({ method, path, headers: admin(users) }) })
  }
  add({ label: 'GET /v1/_packs/{name}/{ref}/files/../../../etc/passwd', expect: 'refuse', make: () => get(users, `/v1/_packs/${f.pack}/1.0.0/files/../../../../etc/passwd`) })
  add({ label: 'GET /v1/_packs/{name}/{ref}/files/%2e%2e%2f%2e%2e%2fregistry.db', expect: 'refuse', make: () => get(users, `/v1/_packs/${f.pack}/1.0.0/files/%2e%2e%2f%2e%2e%2fregistry.db`) })
  add({ label: 'GET /v1/_packs/{name}/{ref}/files/ (no path)', expect: 'refuse', make: () => get(users, `/v1/_packs/${f.pack}/1.0.0/files/`) })
  add({ label: 'GET /v1/_packs/{name}/{ref}/files/charts (not a served file)', expect: 'refuse', make: () => get(users, `/v1/_packs/${f.pack}/1.0.0/files/charts`) })
  add({ label: 'a URL of 20 KB', expect: 'refuse', make: () => get(users, `/v1/_packs/${'x'.repeat(20_000)}`) })
  add({ label: '200 extra headers', expect: 'handle', make: () => get(users, '/v1/_catalog', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-chaos-${i}`, 'y']))) })
  add({ label: 'GET /v2/../v1/_catalog', expect: 'handle', make: () => get(users, '/v2/../v1/_catalog') })
  add({ label: 'GET /v2/{name}/manifests/v1 with an Accept of 10 KB', expect: 'handle', make: () => get(users, `/v2/${f.plain}/manifests/v1`, { accept: `application/x-${'a'.repeat(10_000)}` }) })
  return cases
}

function stallCases(f: Fixture, users: { admin: User; reader: User }): Case[] {
  const stall = (label: string, make: () => Promise<Probe>): Case => ({ family: 'stalled bodies', label, expect: 'stall', make })
  const big = Buffer.alloc(MiB, 1)
  return [
    stall('POST /v1/_packs: 1 KB of a 1 MiB multipart body, then silence', async () => ({
      method: 'POST',
      path: '/v1/_packs',
      headers: admin(users, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': MiB }),
      body: Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="archive"; filename="a.tgz"\r\n\r\n`), (await f.validArchive(nextVersion())).subarray(0, 500), big]),
      stallAfter: 1024,
    })),
    stall('POST /v1/_packs: chunked, one chunk, then silence', async () => ({
      method: 'POST',
      path: '/v1/_packs',
      headers: admin(users, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'transfer-encoding': 'chunked' }),
      body: Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="archive"; filename="a.tgz"\r\n\r\n`), await f.validArchive(nextVersion())]),
      stallAfter: 300,
    })),
    stall('PATCH /v2 upload: 1 KB of 1 MiB, then silence', async () => ({ method: 'PATCH', path: await f.session(f.plain), headers: admin(users, { 'content-type': OCTET, 'content-length': MiB }), body: big, stallAfter: 1024 })),
    stall('PUT /v2 upload ?digest=: 1 KB of 1 MiB, then silence', async () => ({
      method: 'PUT',
      path: `${await f.session(f.plain)}?digest=${sha256(big)}`,
      headers: admin(users, { 'content-type': OCTET, 'content-length': MiB }),
      body: big,
      stallAfter: 1024,
    })),
    stall('POST /v2 monolithic upload: 1 KB of 1 MiB, then silence', async () => ({
      method: 'POST',
      path: `/v2/${f.plain}/blobs/uploads/?digest=${sha256(big)}`,
      headers: admin(users, { 'content-type': OCTET, 'content-length': MiB }),
      body: big,
      stallAfter: 1024,
    })),
    stall('PUT /v2 manifest: 10 bytes of 1,000, then silence', async () => ({
      method: 'PUT',
      path: `/v2/${f.plain}/manifests/stalled`,
      headers: admin(users, { 'content-type': OCI_MANIFEST_MEDIA_TYPE, 'content-length': 1000 }),
      body: Buffer.alloc(1000, ' '),
      stallAfter: 10,
    })),
    stall('PUT /v1 tag: 5 bytes of 100, then silence', async () => ({
      method: 'PUT',
      path: `/v1/_packs/${f.pack}/_tags/stalled`,
      headers: admin(users, { 'content-type': 'application/json', 'content-length': 100 }),
      body: Buffer.alloc(100, ' '),
      stallAfter: 5,
    })),
    stall('POST /v1/_packs as the read-only user: 1 KB of 1 MiB, then silence', async () => ({
      method: 'POST',
      path: '/v1/_packs',
      headers: { authorization: authorization(users.reader), 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': MiB },
      body: big,
      stallAfter: 1024,
    })),
  ]
}

function abortCases(f: Fixture, users: { admin: User }): Case[] {
  const abort = (label: string, make: () => Promise<Probe>): Case => ({ family: 'aborted uploads', label, expect: 'abort', make })
  const big = randomBytes('abort', 2 * MiB)
  return [
    abort('POST /v1/_packs: half of the archive, then the connection drops', async () => {
      const archive = await seededPackArchive('chaos-bad', nextVersion(), 'abort', 2 * MiB)
      const body = multipart(BOUNDARY, [{ name: 'archive', filename: 'a.tgz', data: archive }])
      return { method: 'POST', path: '/v1/_packs', headers: admin(users, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': body.length }), body, abortAfter: body.length >> 1 }
    }),
    abort('PATCH /v2 upload: half, then the connection drops', async () => ({ method: 'PATCH', path: await f.session(f.plain), headers: admin(users, { 'content-type': OCTET, 'content-length': big.length }), body: big, abortAfter: MiB })),
    abort('PUT /v2 upload ?digest=: half, then the connection drops', async () => ({
      method: 'PUT',
      path: `${await f.session(f.plain)}?digest=${sha256(big)}`,
      headers: admin(users, { 'content-type': OCTET, 'content-length': big.length }),
      body: big,
      abortAfter: MiB,
    })),
    abort('POST /v2 monolithic: half, then the connection drops', async () => ({
      method: 'POST',
      path: `/v2/${f.plain}/blobs/uploads/?digest=${sha256(big)}`,
      headers: admin(users, { 'content-type': OCTET, 'content-length': big.length }),
      body: big,
      abortAfter: MiB,
    })),
    abort('PUT /v2 manifest: half, then the connection drops', async () => {
      const body = manifestBody([], { annotations: { pad: 'x'.repeat(100_000) } })
      return { method: 'PUT', path: `/v2/${f.plain}/manifests/aborted`, headers: admin(users, { 'content-type': OCI_MANIFEST_MEDIA_TYPE, 'content-length': body.length }), body, abortAfter: body.length >> 1 }
    }),
    abort('POST /v1/_packs: the connection drops right after the headers', async () => ({
      method: 'POST',
      path: '/v1/_packs',
      headers: admin(users, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': MiB }),
      body: Buffer.alloc(0),
      abortAfter: 0,
    })),
  ]
}

function fuzzCases(f: Fixture, ctx: ChaosContext): Case[] {
  const prng = new Prng('chaos-fuzz')
  const cases: Case[] = []
  for (let i = 0; i < ctx.settings.badInput.fuzzArchives; i++) {
    const ops = ['flip', 'truncate', 'insert', 'duplicate'] as const
    const op = ops[prng.int(0, ops.length - 1)] as (typeof ops)[number]
    const a = prng.next()
    const b = prng.next()
    const count = prng.int(1, 8)
    cases.push({
      family: 'fuzzed archives',
      label: `POST /v1/_packs: a valid archive with ${op} #${i}`,
      expect: 'handle',
      make: async () => {
        const archive = Buffer.from(await seededPackArchive('chaos-fuzz', `7.7.${i}`, `fuzz:${i}`, 3000))
        const at = Math.floor(a * archive.length)
        let mutated: Buffer
        if (op === 'flip') {
          mutated = archive
          for (let k = 0; k < count; k++) {
            const pos = (at + k * 97) % archive.length
            mutated[pos] = (mutated[pos] as number) ^ (1 << ((k + i) % 8))
          }
        } else if (op === 'truncate') mutated = archive.subarray(0, at)
        else if (op === 'insert') mutated = Buffer.concat([archive.subarray(0, at), randomBytes(`fuzz-insert:${i}`, count * 64), archive.subarray(at)])
        else {
          const end = at + Math.floor(b * (archive.length - at))
          mutated = Buffer.concat([archive.subarray(0, end), archive.subarray(at, end), archive.subarray(end)])
        }
        return pushProbe(ctx.users, mutated)
      },
    })
  }
  const values: unknown[] = [null, -1, 0, 1e300, '', 'x'.repeat(10_000), [], {}, true, [null], { digest: 'sha256:0' }, 'sha256:' + 'f'.repeat(64)]
  const base = () => JSON.parse(manifestBody([{ mediaType: OCTET, digest: f.blob.digest, size: f.blob.size }], { annotations: { a: 'b' } }).toString()) as Record<string, unknown>
  for (let i = 0; i < ctx.settings.badInput.fuzzManifests; i++) {
    const doc = base()
    // Walks to a random object or array in the document, then deletes or replaces one member.
    let node: Record<string, unknown> | unknown[] = doc
    for (let depth = prng.int(0, 3); depth > 0; depth--) {
      const keys = Object.keys(node)
      const child = keys.length > 0 ? (node as Record<string, unknown>)[keys[prng.int(0, keys.length - 1)] as string] : undefined
      if (child && typeof child === 'object') node = child as Record<string, unknown>
    }
    const keys = Object.keys(node)
    const key = keys.length > 0 ? (keys[prng.int(0, keys.length - 1)] as string) : 'extra'
    if (prng.next() < 0.3) delete (node as Record<string, unknown>)[key]
    else (node as Record<string, unknown>)[key] = values[prng.int(0, values.length - 1)]
    const body = Buffer.from(JSON.stringify(doc))
    const repo = prng.next() < 0.5 ? f.plain : f.oras
    cases.push({
      family: 'fuzzed manifests',
      label: `PUT /v2/{name}/manifests: mutated manifest #${i} (${key})`,
      expect: 'handle',
      make: () => ({ method: 'PUT', path: `/v2/${repo}/manifests/fuzz-${i}`, headers: admin(ctx.users, { 'content-type': OCI_MANIFEST_MEDIA_TYPE }), body }),
    })
  }
  return cases
}

/** Every case, in the order they run; `stalls` run all at once at the end. */
export async function allCases(f: Fixture, ctx: ChaosContext): Promise<{ sequential: Case[]; stalls: Case[] }> {
  const users = ctx.users
  const sequential: Case[] = [
    ...credentialCases(f, users),
    ...readOnlyCases(f, users),
    ...nameCases(f, users),
    ...refCases(f, users),
    ...digestCases(f, users),
    ...rangeCases(f, users),
    ...paginationCases(f, users),
    ...tagBodyCases(f, users),
    ...manifestCases(f, users),
    ...uploadCases(f, users),
    ...multipartCases(f, users),
    ...(await archiveCases(f, ctx)),
    ...specialCases(f, users),
    ...abortCases(f, users),
    ...fuzzCases(f, ctx),
  ]
  return { sequential, stalls: stallCases(f, users) }
}
