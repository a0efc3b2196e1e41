// Three Packyard replicas behind nginx (test/replicas.ts: real PostgreSQL, s3rver, three
// `packyard serve` processes, nginx round-robin), walked as users walk one server: the /v1 pack
// API, the distribution API walk with a chunked upload whose requests each land on another
// replica, the CLI binary, skopeo in and out; then what only several replicas can get wrong: a
// write acknowledged by one replica is seen by the next request to any other, and 8 clients
// pushing versions of the same packs at once through nginx leave exactly the parent tags an
// independent computation over the acknowledged versions gives; a replica killed and restarted
// rejoins with what was pushed meanwhile. One harness for all that (blobs on s3rver), and a
// short second one with the blobs on one filesystem root the replicas share.
// Missing programs (nginx, PostgreSQL, skopeo, htpasswd) fail the file, never skip it.

import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Answer, fetchInjector } from './fetch-inject.js'
import { ADMIN, runBin, tempDir, USERS } from './helpers.js'
import { MOUNTS, walk } from './http/distribution-walk.js'
import { layoutDigest, sha256, skopeo, writeLayout } from './interop/helpers.js'
import { archive, get, packFiles, push, pushPack } from './pack-fixtures.js'
import { type Replica, startReplicas } from './replicas.js'

// The runner's budget (package.json) also when the file is run on its own, where tap's is 30 s.
t.setTimeout(120_000)

const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`
const MiB = 1024 * 1024

t.test('three replicas behind nginx', async (t) => {
  const set = await startReplicas(t)
  const [r1, r2, r3] = set.replicas as [Replica, Replica, Replica]
  t.equal(set.admin.authorization, ADMIN, 'the walks\' credentials are the harness\'s users')
  const viaNginx = fetchInjector(() => set.url)
  const direct = (replica: Replica) => fetchInjector(() => replica.url)
  /** Waits until the replicas' logs show `expected` more requests than `before`, then the per-replica increase. */
  const served = async (before: number[], expected: number): Promise<number[]> => {
    const deadline = Date.now() + 5000
    for (;;) {
      const delta = set.replicas.map((replica, i) => replica.requests() - (before[i] as number))
      if (delta.reduce((a, b) => a + b, 0) >= expected || Date.now() > deadline) return delta
      await sleep(20)
    }
  }
  const counts = () => set.replicas.map((replica) => replica.requests())

  await t.test('nginx sends consecutive requests to each replica in turn', async (t) => {
    for (const replica of set.replicas) t.equal((await fetch(`${replica.url}/health`)).status, 200, `replica-${replica.index} answers on its own`)
    const before = counts()
    for (let i = 0; i < 6; i++) t.equal((await get(viaNginx, '/v2/')).statusCode, 200)
    t.same(await served(before, 6), [2, 2, 2], 'two requests each')
  })

  await t.test('the /v1 pack API: push, list, get, tags, parent tags, delete', async (t) => {
    const tgz = await archive(packFiles({ name: 'walkpack', version: '1.0.0' }))
    const created = await push(viaNginx, tgz)
    t.equal(created.statusCode, 201, created.body)
    t.match(created.json(), { name: 'walkpack', version: '1.0.0', tag: '1.0.0', digest: sha(tgz), status: 'created', parentTags: ['1.0.x', '1.x'] })
    t.equal((await push(viaNginx, tgz)).json().errors[0].code, 'TAG_EXISTS', 'the same push again, on another replica')
    for (const version of ['1.1.0', '1.2.0-rc.1', '2.0.0']) t.equal((await pushPack(viaNginx, { name: 'walkpack', version })).status, 'created')

    const listed = (await get(viaNginx, '/v1/_packs?name=walkpack')).json().packs[0] as { name: string; tags: Array<{ tag: string; parentTags: string[] }> }
    t.same(
      listed.tags.map((x) => [x.tag, x.parentTags]),
      [
        ['1.0.0', ['1.0.x']],
        ['1.1.0', ['1.1.x', '1.x']],
        ['1.2.0-rc.1', ['1.2.x']],
        ['2.0.0', ['2.0.x', '2.x']],
      ],
    )
    const detail = await get(viaNginx, '/v1/_packs/walkpack/1.0.0')
    t.equal(detail.statusCode, 200)
    t.equal(detail.json().digest, sha(tgz))
    const downloaded = await get(viaNginx, '/v1/_packs/walkpack/1.0.0/archive')
    t.equal(sha(downloaded.rawPayload), sha(tgz), 'the archive, byte for byte')
    t.equal((await get(viaNginx, '/v1/_packs/walkpack/1.x')).json().version, '1.1.0', 'a parent tag resolves to the highest release of its line')
    t.same((await get(viaNginx, '/v1/walkpack/tags/list')).json().tags, ['1.0.0', '1.0.x', '1.1.0', '1.1.x', '1.2.0-rc.1', '1.2.x', '1.x', '2.0.0', '2.0.x', '2.x'])

    const tag = await viaNginx.inject({ method: 'PUT', url: '/v1/_packs/walkpack/_tags/stable', payload: { ref: '1.0.0' }, headers: { authorization: ADMIN } })
    t.equal(tag.statusCode, 201, tag.body)
    t.equal((await get(viaNginx, '/v1/_packs/walkpack/stable')).json().version, '1.0.0')
    t.equal((await viaNginx.inject({ method: 'DELETE', url: '/v1/_packs/walkpack/_tags/1.x', headers: { authorization: ADMIN } })).json().errors[0].code, 'TAG_PROTECTED')
    t.equal((await viaNginx.inject({ method: 'DELETE', url: '/v1/_packs/walkpack/_tags/stable', headers: { authorization: ADMIN } })).statusCode, 200)

    t.equal((await viaNginx.inject({ method: 'DELETE', url: '/v1/_packs/walkpack/1.1.0', headers: { authorization: ADMIN } })).statusCode, 200)
    t.equal((await get(viaNginx, '/v1/_packs/walkpack/1.x')).json().version, '1.0.0', '1.x relinked on the next request')
    t.equal((await get(viaNginx, '/v1/_packs/walkpack/1.1.x')).statusCode, 404, 'the emptied line is gone')
    for (const version of ['1.0.0', '1.2.0-rc.1', '2.0.0']) t.equal((await viaNginx.inject({ method: 'DELETE', url: `/v1/_packs/walkpack/${version}`, headers: { authorization: ADMIN } })).statusCode, 200)
    t.equal((await get(viaNginx, '/v1/_packs/walkpack')).statusCode, 404, 'the pack is gone with its last version')
  })

  await t.test('the distribution walk; each request of its chunked upload on another replica', async (t) => {
    // The upload's own requests (POST without a digest, then those on its session URL) go to
    // replica 1, 2, 3, 1... directly; everything else through nginx.
    let turn = 0
    const session = (method: string, url: string) => /\/blobs\/uploads\/[0-9a-f-]{36}/.test(url) || (method === 'POST' && /\/blobs\/uploads\/$/.test(url))
    const spread = fetchInjector((method, url) => (session(method, url) ? (set.replicas[turn++ % set.replicas.length] as Replica).url : set.url))
    // Two surfaces with repositories of their own (the two pack mounts are one repository).
    for (const mount of [MOUNTS[0], MOUNTS[2]]) {
      if (mount === undefined) throw new Error('the walk has fewer mounts than expected')
      await t.test(mount.what, async (t) => {
        spread.sent.length = 0
        await walk(t, spread, mount)
        const uploads = spread.sent.filter((request) => request.base !== set.url)
        t.ok(uploads.length >= 5, `the chunked upload's POST, PATCHes, status and PUT: ${uploads.map((u) => `${u.method}→${u.base.slice(-5)} ${u.status}`).join(', ')}`)
        t.ok(
          uploads.every((request, i) => i === 0 || request.base !== uploads[i - 1]?.base),
          'no two in a row on the same replica',
        )
      })
    }
  })

  await t.test('a chunked upload through nginx, in parts larger than the S3 part size, each request on another replica', async (t) => {
    const blob = Buffer.alloc(13 * MiB)
    for (let i = 0; i < blob.length; i += 4096) blob.writeUInt32BE(i, i)
    const repo = '/v2/spread/blob'
    const before = counts()
    const start = await viaNginx.inject({ method: 'POST', url: `${repo}/blobs/uploads/`, headers: { authorization: ADMIN } })
    t.equal(start.statusCode, 202, start.body)
    const location = String(start.headers.location)
    const cuts = [0, 6 * MiB, 12 * MiB, blob.length]
    let answer: Answer = start
    for (let part = 0; part < 2; part++) {
      const [from, to] = [cuts[part] as number, cuts[part + 1] as number]
      answer = await viaNginx.inject({ method: 'PATCH', url: String(answer.headers.location ?? location), payload: blob.subarray(from, to), headers: { authorization: ADMIN, 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` } })
      t.equal(answer.statusCode, 202, `part ${part + 1}: ${answer.body}`)
      t.equal(answer.headers.range, `0-${to - 1}`, 'the upload stands where the last part ended')
    }
    const next = String(answer.headers.location ?? location)
    const done = await viaNginx.inject({ method: 'PUT', url: `${next}${next.includes('?') ? '&' : '?'}digest=${sha(blob)}`, payload: blob.subarray(12 * MiB), headers: { authorization: ADMIN, 'content-type': 'application/octet-stream' } })
    t.equal(done.statusCode, 201, done.body)
    const delta = await served(before, 4)
    t.ok(delta.every((n) => n >= 1), `every replica took part of it: ${delta.join(', ')}`)
    for (const replica of set.replicas) {
      const got = await direct(replica).inject({ method: 'GET', url: `${repo}/blobs/${sha(blob)}`, headers: { authorization: ADMIN } })
      t.equal(got.statusCode, 200, `replica-${replica.index} serves the blob`)
      t.equal(sha(got.rawPayload), sha(blob), `replica-${replica.index}: byte for byte`)
    }
  })

  await t.test('the CLI binary against nginx: login, push, ls, pull, tag, delete', async (t) => {
    const root = realpathSync(tempDir(t))
    const S = set.host
    const home = join(root, 'home')
    const cli = (args: string[], input?: string) => runBin(['-s', home, ...args], { cwd: root, env: { HOME: join(root, 'not-this-home') }, ...(input === undefined ? {} : { input }) })
    const login = await cli(['registry', 'login', S, '--insecure', '--username', 'admin', '--password-stdin'], `${USERS.admin}\n`)
    t.equal(login.code, 0, login.stderr)
    const pack = join(root, 'hello')
    mkdirSync(pack)
    writeFileSync(join(pack, 'pack.json'), JSON.stringify({ name: 'clihello', displayName: 'Hello', version: '1.0.0', layer: 'addon' }))
    writeFileSync(join(pack, 'values.yaml'), 'pack:\n  namespace: hello\n')
    const created = await cli(['pack', 'push', pack])
    t.equal(created.code, 0, created.stderr)
    const m = new RegExp(`^Created clihello:1\\.0\\.0 on ${S}\\nDigest: (sha256:[0-9a-f]{64})\\nParent tags: 1\\.0\\.x, 1\\.x\\n$`).exec(created.stdout)
    t.ok(m, created.stdout)
    const digest = m?.[1] as string
    const again = await cli(['pack', 'push', pack])
    t.equal(again.code, 1, 'the same push again is refused, whichever replica takes it')
    const ls = await cli(['pack', 'ls'])
    t.equal(ls.code, 0, ls.stderr)
    t.match(ls.stdout, new RegExp(`\\nclihello +1\\.0\\.0 +1\\.0\\.0 +1\\.0\\.x,1\\.x +${digest.slice(7, 19)} `))
    const pulled = await cli(['pack', 'pull', 'clihello:1.x', join(root, 'pulled')])
    t.equal(pulled.code, 0, pulled.stderr)
    t.equal(readFileSync(join(root, 'pulled', 'clihello-1.0.0', 'values.yaml'), 'utf8'), 'pack:\n  namespace: hello\n')
    t.equal((await cli(['pack', 'tag', 'add', 'clihello:1.0.0', 'stable'])).stdout, `Tagged clihello:1.0.0 as clihello:stable (${digest})\n`)
    t.equal((await cli(['pack', 'tag', 'delete', 'clihello:stable'])).stdout, `Deleted tag clihello:stable (it pointed at ${digest})\n`)
    t.equal((await cli(['pack', 'delete', 'clihello:1.0.0'])).stdout, `Deleted clihello 1.0.0 (${digest}) and its tags 1.0.0\n`)
    t.equal((await cli(['registry', 'logout'])).code, 0)
  })

  await t.test('skopeo copy in and out through nginx', async (t) => {
    const layout = await writeLayout(join(tempDir(t), 'layout'))
    const repo = `docker://${set.host}/skopeo/repo`
    const creds = `admin:${USERS.admin}`
    await skopeo(['copy', '--preserve-digests', '--dest-creds', creds, '--dest-tls-verify=false', `oci:${layout.dir}:single`, `${repo}:single`])
    await skopeo(['copy', '--all', '--preserve-digests', '--dest-creds', creds, '--dest-tls-verify=false', `oci:${layout.dir}:multi`, `${repo}:multi`])
    for (const [tag, digest] of [
      ['single', layout.single.digest],
      ['multi', layout.multi.digest],
    ] as const) {
      const raw = await skopeo(['inspect', '--raw', '--creds', creds, '--tls-verify=false', `${repo}:${tag}`])
      t.equal(sha256(raw.stdout), digest, `${tag}: the manifest digest is unchanged`)
    }
    const out = join(tempDir(t), 'out')
    await skopeo(['copy', '--all', '--preserve-digests', '--src-creds', creds, '--src-tls-verify=false', `${repo}:multi`, `oci:${out}:multi`])
    t.equal(layoutDigest(out, 'multi'), layout.multi.digest, 'copied out: the same index')
    const copied = readdirSync(join(out, 'blobs', 'sha256'))
    t.equal(copied.length, 9, 'the index, two manifests, two configs and four layers')
    for (const hex of copied) t.same(readFileSync(join(out, 'blobs', 'sha256', hex)), layout.blobs.get(`sha256:${hex}`), `blob ${hex.slice(0, 12)} byte-identical`)
    await skopeo(['delete', '--creds', creds, '--tls-verify=false', `${repo}:single`])
    const tags = JSON.parse((await skopeo(['list-tags', '--creds', creds, '--tls-verify=false', repo])).stdout) as { Tags: string[] }
    t.same(tags.Tags, ['multi'])
  })

  await t.test('read your writes: what one replica acknowledged, the next request to any other sees', async (t) => {
    for (let i = 0; i < 6; i++) {
      const writer = set.replicas[i % 3] as Replica
      const others = set.replicas.filter((replica) => replica !== writer)
      const version = `1.${i}.0`
      const pushed = await pushPack(direct(writer), { name: 'ryw', version })
      for (const other of others) {
        const on = direct(other)
        const detail = await get(on, `/v1/_packs/ryw/${version}`)
        t.equal(detail.statusCode, 200, `${version} pushed on replica-${writer.index}, read on replica-${other.index}`)
        t.equal(detail.json().digest, pushed.digest)
        t.equal((await get(on, '/v1/_packs/ryw/1.x')).json().version, version, `replica-${other.index}: 1.x already moved`)
        const manifest = await on.inject({ method: 'HEAD', url: `/v2/spectro-packs/archive/ryw/manifests/${version}`, headers: { authorization: ADMIN } })
        t.equal(manifest.headers['docker-content-digest'], pushed.manifestDigest, `replica-${other.index}: the same manifest over /v2`)
      }
      const tagged = await direct(writer).inject({ method: 'PUT', url: `/v1/_packs/ryw/_tags/latest-${i}`, payload: { ref: version }, headers: { authorization: ADMIN } })
      t.equal(tagged.statusCode, 201)
      for (const other of others) t.equal((await get(direct(other), `/v1/_packs/ryw/latest-${i}`)).json().version, version, `tag on replica-${writer.index} seen on replica-${other.index}`)
    }
    const deleted = await direct(r1).inject({ method: 'DELETE', url: '/v1/_packs/ryw/1.5.0', headers: { authorization: ADMIN } })
    t.equal(deleted.statusCode, 200)
    for (const other of [r2, r3]) {
      t.equal((await get(direct(other), '/v1/_packs/ryw/1.5.0')).statusCode, 404, `deleted on replica-1, gone on replica-${other.index}`)
      t.equal((await get(direct(other), '/v1/_packs/ryw/1.x')).json().version, '1.4.0', `replica-${other.index}: 1.x back on 1.4.0`)
    }
  })

  await t.test('8 clients pushing versions of the same packs through nginx: every parent tag is what the acknowledged versions say', async (t) => {
    const packs = ['alpha', 'beta', 'gamma']
    const labels = ['0.9.0', '1.0.0', '1.0.1', '1.0.10', '1.1.0', '1.2.0-rc.1', '1.2.0-rc.2', '1.2.0', '1.3.0-beta.1', '2.0.0-rc.1', '2.0.0-alpha.10', '2.0.0-alpha.9', '2.1.0', '3.0.0-rc.1']
    const groups = [null, 'LTS']
    const pushes = packs.flatMap((name) => groups.flatMap((group) => labels.map((version) => ({ name, group, version }))))
    // A fixed shuffle, then dealt to the clients in turn: each pack's versions arrive interleaved
    // from every client, in no particular order.
    let seed = 23
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let i = pushes.length - 1; i > 0; i--) {
      const j = random(i + 1)
      ;[pushes[i], pushes[j]] = [pushes[j] as (typeof pushes)[number], pushes[i] as (typeof pushes)[number]]
    }
    const clients = 8
    const acknowledged: Array<{ name: string; tag: string }> = []
    const refused: string[] = []
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        const client_ = fetchInjector(() => set.url)
        for (let i = client; i < pushes.length; i += clients) {
          const { name, group, version } = pushes[i] as (typeof pushes)[number]
          const res = await push(client_, await archive(packFiles({ name, version, ...(group ? { group } : {}), description: `client ${client}` })))
          const tag = group ? `${group}__${version}` : version
          if (res.statusCode === 201) acknowledged.push({ name, tag })
          else refused.push(`${name}:${tag} ${res.statusCode} ${res.body}`)
        }
      }),
    )
    t.same(refused, [], 'every push acknowledged')
    for (const name of packs) {
      const expected = expectedParentTags(acknowledged.filter((a) => a.name === name).map((a) => a.tag))
      for (const replica of set.replicas) {
        const detail = (await get(direct(replica), `/v1/_packs/${name}`)).json() as { tags: Array<{ tag: string; kind: string; parentTags: string[] }> }
        const actual: Record<string, string> = {}
        for (const x of detail.tags) for (const parent of x.parentTags) actual[parent] = x.tag
        t.same(actual, expected, `${name} on replica-${replica.index}: ${Object.keys(expected).length} parent tags`)
        t.same(detail.tags.filter((x) => x.kind === 'parent').map((x) => x.tag).sort(), Object.keys(expected).sort(), `${name} on replica-${replica.index}: no other parent tag stored`)
      }
    }
  })

  await t.test('a replica killed with SIGKILL: the others take its share; restarted, it serves what was pushed meanwhile', async (t) => {
    await r2.kill9()
    for (let i = 0; i < 6; i++) t.equal((await get(viaNginx, '/v2/')).statusCode, 200, `request ${i + 1} through nginx`)
    const pushed = await pushPack(viaNginx, { name: 'whiledown', version: '1.0.0' })
    await r2.restart()
    const detail = await get(direct(r2), '/v1/_packs/whiledown/1.0.0')
    t.equal(detail.statusCode, 200)
    t.equal(detail.json().digest, pushed.digest)
  })

  await t.test('no replica answered a 5xx, none died', async (t) => {
    t.same(set.serverErrors(), [])
    t.equal(set.s3?.child.exitCode ?? set.s3?.child.signalCode, null, 's3rver is running')
    for (const replica of set.replicas) t.equal(replica.death(), null, `replica-${replica.index} is running`)
  })
})

t.test('three replicas on one shared filesystem root', async (t) => {
  const set = await startReplicas(t, { storage: 'filesystem' })
  const viaNginx = fetchInjector(() => set.url)
  const tgz = await archive(packFiles({ name: 'onshared', version: '1.0.0' }))
  t.equal((await push(viaNginx, tgz)).statusCode, 201)
  const blob = Buffer.alloc(3 * MiB, 7)
  let next = String((await viaNginx.inject({ method: 'POST', url: '/v2/shared/blob/blobs/uploads/', headers: { authorization: ADMIN } })).headers.location)
  for (const [from, to] of [
    [0, MiB],
    [MiB, 2 * MiB],
  ] as const) {
    const part = await viaNginx.inject({ method: 'PATCH', url: next, payload: blob.subarray(from, to), headers: { authorization: ADMIN, 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` } })
    t.equal(part.statusCode, 202, `bytes ${from}-${to - 1} on the next replica: ${part.body}`)
    next = String(part.headers.location ?? next)
  }
  const done = await viaNginx.inject({ method: 'PUT', url: `${next}${next.includes('?') ? '&' : '?'}digest=${sha(blob)}`, payload: blob.subarray(2 * MiB), headers: { authorization: ADMIN, 'content-type': 'application/octet-stream' } })
  t.equal(done.statusCode, 201, done.body)
  for (const replica of set.replicas) {
    const on = fetchInjector(() => replica.url)
    t.equal(sha((await get(on, '/v1/_packs/onshared/1.0.0/archive')).rawPayload), sha(tgz), `replica-${replica.index} serves the pack from the shared root`)
    t.equal(sha((await get(on, `/v2/shared/blob/blobs/${sha(blob)}`)).rawPayload), sha(blob), `replica-${replica.index} serves the uploaded blob`)
  }
  t.same(set.serverErrors(), [])
})

/** `M.m.p` or `M.m.p-pre.ids`, the only shapes the concurrency test pushes. */
function semver(label: string): { major: number; minor: number; patch: number; pre: string[] } {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(label)
  if (!m) throw new Error(`not a version the test uses: ${label}`)
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] }
}

/** SemVer 2.0 precedence (§11), written here without the registry's code. */
function compare(a: string, b: string): number {
  const x = semver(a)
  const y = semver(b)
  for (const key of ['major', 'minor', 'patch'] as const) if (x[key] !== y[key]) return x[key] - y[key]
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const [p, q] = [x.pre[i] as string, y.pre[i] as string]
    const [pn, qn] = [/^\d+$/.test(p), /^\d+$/.test(q)]
    if (pn && qn && Number(p) !== Number(q)) return Number(p) - Number(q)
    if (pn !== qn) return pn ? -1 : 1
    if (!pn && p !== q) return p < q ? -1 : 1
  }
  return x.pre.length - y.pre.length
}

/**
 * The rules of the README for version tags `[GROUP__]M.m.p[-pre]`: each version joins the lines
 * `M.x` and `M.m.x` of its group; a line points at its highest release, or at its highest
 * pre-release while it has no release. Returns parent tag → version tag.
 */
function expectedParentTags(tags: string[]): Record<string, string> {
  const lines = new Map<string, string[]>()
  for (const tag of tags) {
    const at = tag.indexOf('__')
    const prefix = at === -1 ? '' : tag.slice(0, at + 2)
    const label = tag.slice(prefix.length)
    const { major, minor } = semver(label)
    for (const line of [`${prefix}${major}.x`, `${prefix}${major}.${minor}.x`]) lines.set(line, [...(lines.get(line) ?? []), tag])
  }
  const out: Record<string, string> = {}
  for (const [line, members] of lines) {
    const labelOf = (tag: string) => tag.slice(tag.indexOf('__') === -1 ? 0 : tag.indexOf('__') + 2)
    const releases = members.filter((tag) => semver(labelOf(tag)).pre.length === 0)
    const pool = releases.length > 0 ? releases : members
    out[line] = pool.reduce((best, tag) => (compare(labelOf(tag), labelOf(best)) > 0 ? tag : best))
  }
  return out
}

