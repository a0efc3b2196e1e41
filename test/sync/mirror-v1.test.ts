// packyard sync against a real upstream Packyard listening on loopback (api: v1): content rules,
// --dry-run, digests equal to the upstream's, parent tags computed here (groups, pre-releases),
// a pack refused by this registry's validation, a conflict with a tag pushed here, a signature
// copied along with its version, a second run that copies nothing, and the events.

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { ADMIN, listeningApp, runCliHere, tempDir, testApp, USERS } from '../helpers.js'
import { get, pushPack, uploadBlob } from '../pack-fixtures.js'
import { EMPTY_CONFIG } from '../../src/packs/oras-manifest.js'
import { sha256Digest } from '../../src/store/digest.js'
import type { EventView } from '../../src/audit.js'
import { eventRows } from '../../src/cli/commands/events.js'

const OCI = 'application/vnd.oci.image.manifest.v1+json'

t.test('sync copies the selected packs from an upstream Packyard over /v1', async (t) => {
  const upstream = await listeningApp(t)
  const up = upstream.app
  await pushPack(up, { version: '1.0.0' })
  const v110 = await pushPack(up, { version: '1.1.0' })
  await pushPack(up, { version: '2.0.0-rc.1' })
  await pushPack(up, { version: '1.2.0', group: 'edge' })
  await pushPack(up, { name: 'cni-calico', version: '3.26.0' })
  await pushPack(up, { name: 'cni-calico', version: '3.27.0' })
  await pushPack(up, { name: 'other', version: '1.0.0' })
  // Accepted upstream; this registry's limits.filesize refuses its README.
  await pushPack(up, { name: 'warned', version: '1.0.0' }, { 'README.md': 'x'.repeat(40_000) })

  // A signature of 1.1.0 (a manifest whose subject is the version's), copied along with it.
  const signature = Buffer.from('a signature')
  t.equal((await uploadBlob(up, 'spectro-packs/archive/hellouniverse', signature)).statusCode, 201)
  t.equal((await uploadBlob(up, 'spectro-packs/archive/hellouniverse', EMPTY_CONFIG)).statusCode, 201)
  const sigManifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI,
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(EMPTY_CONFIG), size: EMPTY_CONFIG.length },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha256Digest(signature), size: signature.length }],
    subject: { mediaType: OCI, digest: v110.manifestDigest, size: 0 },
  })
  const sigDigest = sha256Digest(Buffer.from(sigManifest))
  const sigPut = await up.inject({ method: 'PUT', url: `/v2/spectro-packs/archive/hellouniverse/manifests/${sigDigest}`, payload: sigManifest, headers: { authorization: ADMIN, 'content-type': OCI } })
  t.equal(sigPut.statusCode, 201, sigPut.body)

  const dir = tempDir(t)
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    auth: 'none',
    limits: { filesize: '16KiB' },
    log: { level: 'silent' },
    sync: {
      registries: [
        {
          url: `http://${upstream.server}`,
          username: 'admin',
          password: USERS.admin,
          retries: 1,
          retrydelay: '10ms',
          content: [{ packs: ['hellouniverse'], versions: '>=1.1.0-0' }, { packs: ['cni-*', 'warned'], excludetags: '^none$' }],
        },
      ],
    },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify(doc))
  const here = await testApp(t, { ...doc, auth: { none: {} } }, { auth: false })
  // A tag pushed here that the upstream also has, with other content: never overwritten.
  const mine = await pushPack(here, { name: 'cni-calico', version: '3.26.0', displayName: 'Ours' })

  const dry = await runCliHere(['sync', file, '--once', '--dry-run'])
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, `http://${upstream.server}: would copy 5 packs (`)
  t.match(dry.stdout, /in conflict/)
  t.equal((await get(here, '/v1/_packs/hellouniverse')).statusCode, 404, 'a dry run copies nothing')

  const blobGets = () => upstream.requests.filter((r) => r.includes('/blobs/')).length
  const first = await runCliHere(['sync', file, '--once'], { stderrTty: { columns: 100 } })
  t.match(first.stderr, new RegExp(`\\rhttp://${upstream.server.replace(/\./g, '\\.')}: 6/6 tags, \\d+ blobs, .*\\x1b\\[K\\n$`), 'a progress line on a terminal')
  t.equal(first.code, 0, first.stdout + first.stderr)
  t.match(first.stdout, `http://${upstream.server}: copied 4 packs (`)
  t.match(first.stdout, /0 unchanged, 1 in conflict, 1 refused, 0 failed/)
  t.match(first.stdout, /conflict +cni-calico:3\.26\.0 +cni-calico:3\.26\.0 here was not written by sync/)
  t.match(first.stdout, /refused +warned:1\.0\.0 .*README\.md/)
  t.notMatch(first.stdout, USERS.admin, 'the password never shows')
  t.notMatch(first.stdout, /other|hellouniverse:1\.0\.0/, 'what the rules leave out is not listed')
  const downloaded = blobGets()
  t.ok(downloaded > 0)

  for (const [pack, tag] of [['hellouniverse', '1.1.0'], ['hellouniverse', '2.0.0-rc.1'], ['hellouniverse', 'edge__1.2.0'], ['cni-calico', '3.27.0']]) {
    const path = `/v2/spectro-packs/archive/${pack}/manifests/${tag}`
    const a = await up.inject({ method: 'GET', url: path, headers: { authorization: ADMIN, accept: OCI } })
    const b = await here.inject({ method: 'GET', url: path, headers: { accept: OCI } })
    t.equal(b.statusCode, 200, `${pack}:${tag} is here`)
    t.equal(b.headers['docker-content-digest'], a.headers['docker-content-digest'], `${pack}:${tag} keeps the upstream's digest`)
    t.equal(b.body, a.body, 'byte for byte')
  }
  const referrers = await here.inject({ method: 'GET', url: `/v2/spectro-packs/archive/hellouniverse/referrers/${v110.manifestDigest}` })
  t.match(referrers.json(), { manifests: [{ digest: sigDigest, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }] }, 'the signature came along')
  const sigHere = await here.inject({ method: 'GET', url: `/v2/spectro-packs/archive/hellouniverse/manifests/${sigDigest}`, headers: { accept: OCI } })
  t.equal(sigHere.body, sigManifest, 'byte for byte')
  const packs = (await get(here, '/v1/_packs?name=hellouniverse')).json() as { items?: unknown }
  const text = JSON.stringify(packs)
  t.match(text, /"tag":"1\.1\.0"/)
  t.notMatch(text, /"tag":"1\.0\.0"/, 'versions outside the range are not copied')
  const parent = async (tag: string) => (await here.inject({ method: 'GET', url: `/v2/spectro-packs/archive/hellouniverse/manifests/${tag}`, headers: { accept: OCI } })).headers['docker-content-digest']
  t.equal(await parent('1.x'), await parent('1.1.0'), 'parent tags computed here')
  t.equal(await parent('2.x'), await parent('2.0.0-rc.1'), 'a line of pre-releases only points at its newest')
  t.equal(await parent('edge__1.x'), await parent('edge__1.2.0'), 'per group')
  t.equal((await get(here, '/v1/_packs/other')).statusCode, 404, 'packs outside the rules are not copied')
  t.equal((await get(here, '/v1/_packs/warned')).statusCode, 404, 'a refused pack is not stored')
  const ours = await here.inject({ method: 'GET', url: '/v1/_packs/cni-calico/3.26.0' })
  t.match(ours.body, mine.digest, 'the tag pushed here keeps its content')

  const second = await runCliHere(['sync', file, '--once'])
  t.equal(second.code, 0, second.stderr)
  t.match(second.stdout, /copied 0 packs \(0 blobs, 0 B\), 4 unchanged, 1 in conflict, 1 refused, 0 failed/)
  t.equal(blobGets(), downloaded, 'a second run downloads no blob: the ones here, even the refused pack\'s, are not fetched again')

  const log = (await here.inject({ method: 'GET', url: '/v1/_events' })).json() as { events: EventView[] }
  const rows = eventRows(log.events).map((r) => r.join(' | '))
  t.match(rows.join('\n'), /create \| hellouniverse \| 1\.1\.0 \| .* \| mirrored from http:\/\/127\.0\.0\.1/)
  t.match(rows.join('\n'), /sync\.conflict \| cni-calico \| 3\.26\.0 \| .*not mirrored from http/)
  t.match(rows.join('\n'), /\| sync \| - \| - \| - \| - \| http:\/\/127\.0\.0\.1:\d+: copied 4 packs \(.*\), 1 in conflict, 1 refused, 0 failed/)
  t.equal(log.events.filter((e) => e.action === 'sync').length, 2, 'the two runs; a dry run records nothing')
})

t.test('two upstreams carrying the same pack: the first one mirrored owns the tag, the other conflicts on every run', async (t) => {
  const first = await listeningApp(t, {}, { auth: false })
  const second = await listeningApp(t, {}, { auth: false })
  const ours = await pushPack(first.app, { version: '1.0.0', displayName: 'First' })
  const theirs = await pushPack(second.app, { version: '1.0.0', displayName: 'Second' })
  t.not(ours.manifestDigest, theirs.manifestDigest, 'the two upstreams hold different content')
  const dir = tempDir(t)
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    log: { level: 'silent' },
    sync: { registries: [{ url: `http://${first.server}`, retries: 0 }, { url: `http://${second.server}`, retries: 0 }] },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))
  const here = await testApp(t, { ...doc, auth: { none: {} } }, { auth: false })
  const digestHere = async () => (await here.inject({ method: 'GET', url: '/v2/spectro-packs/archive/hellouniverse/manifests/1.0.0', headers: { accept: OCI } })).headers['docker-content-digest']

  for (const run of [1, 2]) {
    const out = await runCliHere(['sync', file, '--once'])
    t.match(out.stdout, new RegExp(`http://${second.server}: copied 0 packs .*, 1 in conflict`), `run ${run}: the second upstream conflicts`)
    t.match(out.stdout, new RegExp(`hellouniverse:1\\.0\\.0 here was mirrored from http://${first.server}`))
    t.equal(await digestHere(), ours.manifestDigest, `run ${run}: the first upstream's version stays`)
  }
  const log = await get(here, '/v1/_events?action=sync.conflict')
  t.match(log.body, `was mirrored from http://${first.server}, and an upstream never overwrites a tag another one wrote`)
})

t.test('an upstream manifest larger than limits.manifestsize is refused as a push of it would be', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  const manifest = await upstream.app.inject({ method: 'GET', url: '/v2/spectro-packs/archive/hellouniverse/manifests/1.0.0', headers: { accept: OCI } })
  const limit = manifest.rawPayload.length - 1
  const dir = tempDir(t)
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    log: { level: 'silent' },
    limits: { manifestsize: limit },
    sync: { registries: [{ url: `http://${upstream.server}`, retries: 0 }] },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))
  const here = await testApp(t, { ...doc, auth: { none: {} } }, { auth: false })
  const run = await runCliHere(['sync', file, '--once'])
  t.match(run.stdout, /copied 0 packs .*, 1 refused, 0 failed/)
  t.match(run.stdout, new RegExp(`refused +hellouniverse:1\\.0\\.0 .*larger than the limit of ${limit} bytes \\(limits\\.manifestsize\\)`))
  t.equal(upstream.requests.filter((r) => r.includes('/blobs/')).length, 0, 'no blob of it is downloaded')
  t.equal((await get(here, '/v1/_packs/hellouniverse')).statusCode, 404, 'nothing of it stored')
})

t.test('an upstream that cannot be reached fails the run with a clear message and exit 1', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ storage: { filesystem: { rootdirectory: join(dir, 'data') } }, auth: 'none', sync: { registries: [{ url: 'http://127.0.0.1:9', retries: 1, retrydelay: '10ms' }] } }))
  const run = await runCliHere(['sync', file, '--once'])
  t.equal(run.code, 1)
  t.match(run.stdout, /failed +cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/)
  const unknown = await runCliHere(['sync', file, '--once', '--registry', 'http://elsewhere'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /--registry http:\/\/elsewhere is not in sync\.registries \(http:\/\/127\.0\.0\.1:9\)/)
})
