// The pack browser's search and filters over app.inject: text found in names, display names,
// addon types, descriptions, annotations and READMEs; the addon type, group and warnings
// filters with the text and paging; hostile search text never a 5xx; the index following every
// push, forced push and delete; the newest release shown with pre-releases marked; logos from
// their capped route; the empty list's commands naming this registry.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { LOGO_MAX_BYTES } from '../../src/browse/packs.js'
import { ADMIN, testApp } from '../helpers.js'
import { archive, get, packFiles, push, pushPack } from '../pack-fixtures.js'

/** Names of the packs listed on a packs page, in order. */
function listed(html: string): string[] {
  return [...html.matchAll(/<code>([a-z0-9._-]+)<\/code>(?:<\/div>| ·)/g)].map((m) => m[1] as string)
}

async function page(app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: ADMIN, ...headers } })
  return { status: res.statusCode, html: res.body, headers: res.headers }
}

const search = async (app: FastifyInstance, query: Record<string, string>) => listed((await page(app, `/?${new URLSearchParams(query)}`)).html)

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex')

/** Five packs; each has a logo (a pack without one is accepted with a warning) but oddity. */
async function seed(app: FastifyInstance) {
  const logo = { 'logo.png': PNG }
  await pushPack(app, { name: 'nginx', displayName: 'NGINX Ingress', version: '1.9.0', addonType: 'ingress', annotations: { source: 'community' } }, { ...logo, 'README.md': '# NGINX\nRoutes HTTP traffic with **reverse proxying**.\n' })
  await pushPack(app, { name: 'traefik', displayName: 'Traefik', version: '2.10.0', addonType: 'ingress', description: 'A cloud native edge router' }, logo)
  await pushPack(app, { name: 'prometheus', displayName: 'Prometheus', version: '45.0.0', addonType: 'monitoring', addonSubType: 'metrics' }, { ...logo, 'README.md': 'Scrapes metrics; alerting with Alertmanager. Café au lait.' })
  await pushPack(app, { name: 'ubuntu', displayName: 'Ubuntu', layer: 'os', version: '22.04', group: 'LTS' }, logo)
  // Accepted with warnings: an unknown layer, no logo.
  await pushPack(app, { name: 'oddity', displayName: 'Oddity', layer: 'gui', version: '0.1.0', addonType: 'ingress' })
}

t.test('search: names, display names, addon types, descriptions, annotations and README text', async (t) => {
  const app = await testApp(t)
  await seed(app)
  const cases: Array<[string, string[]]> = [
    ['nginx', ['nginx']],
    ['gin', ['nginx']],
    ['INGRESS', ['nginx', 'oddity', 'traefik']],
    ['monitoring', ['prometheus']],
    ['metrics', ['prometheus']],
    ['edge router', ['traefik']],
    ['community', ['nginx']],
    ['reverse proxy', ['nginx']],
    ['alertmanager', ['prometheus']],
    ['cafe', ['prometheus']],
    ['proxying traffic', ['nginx']],
    ['proxying monitoring', []],
    ['nothing-like-this', []],
  ]
  for (const [q, expected] of cases) t.same(await search(app, { q }), expected, q)
  const { html } = await page(app, '/?q=nothing-like-this')
  t.match(html, /No pack matches these filters/)
  t.match(html, /placeholder="Name, description, README"/)
})

t.test('filters: addon type, group and warnings, with the text, in both orders and over pages', async (t) => {
  const app = await testApp(t)
  await seed(app)
  const cases: Array<[Record<string, string>, string[]]> = [
    [{ addonType: 'ingress' }, ['nginx', 'oddity', 'traefik']],
    [{ addonType: 'ingress', q: 'traffic' }, ['nginx']],
    [{ addonType: 'monitoring', q: 'traffic' }, []],
    [{ group: 'LTS' }, ['ubuntu']],
    [{ group: 'LTS', layer: 'os' }, ['ubuntu']],
    [{ group: 'LTS', addonType: 'ingress' }, []],
    [{ warnings: 'true' }, ['oddity']],
    [{ warnings: 'true', q: 'ingress' }, ['oddity']],
    [{ warnings: 'true', addonType: 'monitoring' }, []],
    [{ warnings: 'false' }, ['nginx', 'oddity', 'prometheus', 'traefik', 'ubuntu']],
    [{ addonType: 'ingress', sort: 'changed' }, ['oddity', 'traefik', 'nginx']],
    [{ addonType: 'no-such-type' }, []],
  ]
  for (const [query, expected] of cases) t.same(await search(app, query), expected, JSON.stringify(query))

  const { html } = await page(app, '/')
  t.match(html, /<option value="ingress">ingress<\/option>/, 'the addon types present are offered')
  t.match(html, /<option value="monitoring">monitoring<\/option>/)
  t.match(html, /<option value="LTS">LTS<\/option>/, 'and the groups')
  t.match(html, /<input type="checkbox" name="warnings" value="true">/)
  t.match((await page(app, '/?warnings=true')).html, /<input type="checkbox" name="warnings" value="true" checked>/)
  t.match(html, /<span class="badge warning"[^>]*>warnings<\/span>/, 'a pack with warnings says so')

  // One per page: the Next links carry the text and every filter.
  const seen: string[] = []
  let url: string | null = '/?q=ingress&addonType=ingress&n=1'
  while (url !== null) {
    const res = await page(app, url)
    seen.push(...listed(res.html))
    t.match(res.html, /<h1>Packs <span class="count">3<\/span><\/h1>/, 'the count is of the matches')
    const next = /<a href="([^"]+)" rel="next"/.exec(res.html)?.[1]
    url = next === undefined ? null : next.replace(/&amp;/g, '&')
    if (url !== null) t.match(url, /q=ingress/)
  }
  t.same(seen, ['nginx', 'oddity', 'traefik'], 'paged through the matches')
})

t.test("a pack.json nested past SQLite's JSON depth is stored, listed and filtered around; long groups filter", async (t) => {
  const app = await testApp(t)
  await seed(app)
  const deep = JSON.parse(`${'['.repeat(1100)}${']'.repeat(1100)}`) as unknown
  const pushed = await pushPack(app, { name: 'deep', displayName: 'Deep', version: '1.0.0', addonType: 'ingress', extra: deep })
  t.equal(pushed.status, 'created', 'accepted, as the product we replace would')
  t.ok((await search(app, {})).includes('deep'), 'listed')
  for (const query of [{ addonType: 'ingress' }, { cloud: 'aws' }, { q: 'deep' }] as Array<Record<string, string>>) {
    const res = await page(app, `/?${new URLSearchParams(query)}`)
    t.equal(res.status, 200, `packs page with ${JSON.stringify(query)}`)
  }
  // PostgreSQL's jsonb reads far deeper than SQLite's JSON functions (and than JavaScript writes).
  const readable = app.registry.db.dialect === 'postgres'
  t.equal((await search(app, { addonType: 'ingress' })).includes('deep'), readable, readable ? 'PostgreSQL reads its addon type' : 'its addon type is not read from a pack.json SQLite cannot read')
  const group = `g${'x'.repeat(100)}`
  await pushPack(app, { name: 'grouped', version: '1.0.0', group })
  const res = await page(app, '/')
  t.match(res.html, group, 'the group is offered')
  t.same(await search(app, { group }), ['grouped'], 'and filters')
})

t.test('hostile search text is searched as text: never a 5xx, too long is a 400', async (t) => {
  const app = await testApp(t)
  await seed(app)
  const hostile = [
    '"', '""', '"nginx', 'nginx"', '*', 'nginx*', '-nginx', '- -', 'NEAR', 'NEAR(nginx traffic)', 'NEAR/2', '(', ')', '()', '(nginx',
    'nginx OR prometheus', 'AND', 'NOT nginx', 'name:nginx', 'readme:traffic', '{name readme}:x', '^nginx', 'nginx +traffic', "'; DROP TABLE pack_search; --",
    '\\', '%', '_', '\u0000', 'a\u0000b', '\u202e', '💥', 'x'.repeat(128), 'a '.repeat(64),
  ]
  for (const q of hostile) {
    const res = await page(app, `/?q=${encodeURIComponent(q)}`)
    t.equal(res.status, 200, JSON.stringify(q))
  }
  t.same(await search(app, { q: '"nginx"' }), ['nginx'], 'quotes are no syntax')
  t.same(await search(app, { q: 'NEAR(nginx traffic)' }), [], 'NEAR is a word to find, not an operator')
  t.same(await search(app, { q: 'nginx OR prometheus' }), [], 'OR is a word too: every word must be found')
  t.same(await search(app, { q: '-traefik' }), ['traefik'], 'a leading minus excludes nothing')
  const tooLong = await page(app, `/?q=${'x'.repeat(129)}`)
  t.equal(tooLong.status, 400)
  t.match(tooLong.html, /q/)
  for (const query of ['warnings=maybe', `addonType=${'a'.repeat(129)}`, `group=${'g'.repeat(129)}`]) t.equal((await page(app, `/?${query}`)).status, 400, query)
  t.equal((await page(app, '/?q=nginx')).status, 200, 'the index is intact')
})

t.test('the index follows every change: a newer push, a forced push, deletes', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { name: 'dns', version: '1.0.0' }, { 'README.md': 'Resolves names with kube-dns.' })
  t.same(await search(app, { q: 'kube-dns' }), ['dns'])
  await pushPack(app, { name: 'dns', version: '1.1.0' }, { 'README.md': 'Resolves names with CoreDNS.' })
  t.same(await search(app, { q: 'coredns' }), ['dns'], 'the newest push is what is searched')
  t.same(await search(app, { q: 'kube-dns' }), [], 'not what the pack said before')

  await pushPack(app, { name: 'dns', version: '1.1.0', description: 'Cluster DNS' }, { 'README.md': 'Now with caching.' }, { force: 'true', message: 'new README' })
  t.same(await search(app, { q: 'caching' }), ['dns'], 'a forced push replaces the text')
  t.same(await search(app, { q: 'coredns' }), [])
  t.same(await search(app, { q: 'cluster' }), ['dns'])

  const del = await app.inject({ method: 'DELETE', url: '/v1/_packs/dns/1.1.0', headers: { authorization: ADMIN } })
  t.equal(del.statusCode, 200)
  t.same(await search(app, { q: 'kube-dns' }), ['dns'], 'deleting the shown version shows, and searches, the one before')
  t.same(await search(app, { q: 'caching' }), [])

  await app.inject({ method: 'DELETE', url: '/v1/_packs/dns/1.0.0', headers: { authorization: ADMIN } })
  t.same(await search(app, { q: 'kube-dns' }), [], 'a deleted pack is found no more')
  t.same(await app.registry.db.prepare('SELECT COUNT(*) AS n FROM pack_search').get(), { n: 0 }, 'and its row is gone')
})

t.test('newest version: the newest release, a pre-release only without one, marked wherever listed', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { name: 'mixed', version: '1.0.0' })
  await pushPack(app, { name: 'mixed', version: '2.0.0-rc.1' })
  await pushPack(app, { name: 'early', version: '0.9.0-beta.2' })
  const { html } = await page(app, '/')
  t.match(html, /<a href="\/packs\/mixed\/1.0.0">1.0.0<\/a>\s*<div class="muted">/, 'the release, though a pre-release is newer')
  t.match(html, /<a href="\/packs\/early\/0.9.0-beta.2">0.9.0-beta.2<\/a> <span class="badge prerelease"/, 'a pack with only pre-releases shows one, marked')
  const mixed = (await page(app, '/packs/mixed')).html
  t.match(mixed, /<li class="selected">\s*<a href="\/packs\/mixed\/1.0.0" aria-current="page">1.0.0<\/a>/, 'the pack opens at its newest release')
  t.match(mixed, /<a href="\/packs\/mixed\/2.0.0-rc.1">2.0.0-rc.1<\/a>\s*<span class="tags"><span class="badge prerelease"/, 'the pre-release is marked in the list')
  t.notMatch(mixed, /1.0.0<\/a>\s*<span class="tags"><span class="badge prerelease"/, 'the release is not')
})

t.test('logos: from their own route, at most LOGO_MAX_BYTES; a larger one is the initial and refused', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { name: 'small', displayName: 'Small' }, { 'logo.png': PNG })
  const big = Buffer.concat([PNG, Buffer.alloc(LOGO_MAX_BYTES, 7)])
  await pushPack(app, { name: 'huge', displayName: 'Huge' }, { 'logo.png': big })

  const list = (await page(app, '/')).html
  const src = /<img class="logo" src="(\/_logo\/small\/sha256:[0-9a-f]{64})"/.exec(list)?.[1] as string
  t.ok(src, 'the small logo is shown from the logo route')
  t.match(list, /<span class="logo logo-none" aria-hidden="true" title="its logo is larger than the browser shows">H<\/span>/, 'the big one is not')
  const image = await get(app, src)
  t.equal(image.statusCode, 200)
  t.equal(image.headers['content-type'], 'image/png')
  t.equal(image.headers['content-length'], String(PNG.length))
  t.equal(image.headers['x-content-type-options'], 'nosniff')
  t.match(image.headers['cache-control'], /^private, max-age=31536000, immutable$/)
  t.equal((await app.inject({ method: 'GET', url: src })).statusCode, 401, 'behind the same credentials as the pages')

  const api = (await get(app, '/v1/_packs/huge')).json() as { logoUrl: string }
  const hugeDigest = /sha256:[0-9a-f]{64}/.exec(api.logoUrl)?.[0] as string
  const refused = await get(app, `/_logo/huge/${hugeDigest}`)
  t.equal(refused.statusCode, 404)
  t.match(refused.body, /more than the 262144 the browser shows/)
  t.equal((await get(app, api.logoUrl)).statusCode, 200, 'the API still serves the whole file')

  for (const url of [`/_logo/small/${hugeDigest}`, '/_logo/small/sha256:zz', '/_logo/small/..%2F..%2Fetc', '/_logo/nosuchpack/sha256:00', `/_logo/${'n'.repeat(129)}/x`]) {
    const res = await get(app, url)
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${url}: ${res.statusCode}`)
  }
})

t.test('the empty list names this registry in its commands, and says how to sign out', async (t) => {
  const app = await testApp(t)
  const plain = (await page(app, '/', { host: 'registry.example.com:5080' })).html
  t.match(plain, /<code class="command">packyard registry login registry.example.com:5080 --insecure<\/code>/)
  t.match(plain, /<code class="command">packyard pack push .\/my-pack<\/code>/)
  t.match(plain, /signed in as <strong>admin<\/strong> with HTTP Basic credentials, which browsers keep until they quit: to sign out, close every window of this browser/)

  const open = await testApp(t, { http: { trustedproxies: ['127.0.0.1'] } }, { auth: false })
  const behindTls = (await page(open, '/', { host: 'packs.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'packs.example.com' })).html
  t.match(behindTls, /<code class="command">packyard registry login packs.example.com<\/code>/, 'over HTTPS, no --insecure')
  t.notMatch(behindTls, /to sign out/, 'nobody signs in to an open registry')

  const res = await push(app, await archive(packFiles({ name: 'first' })))
  t.equal(res.statusCode, 201)
  t.notMatch((await page(app, '/')).html, /No packs yet/)
})
