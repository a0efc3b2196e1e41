// The pack browser over app.inject: every page (packs, a pack, other OCI content, the registry),
// its filters, orders and paging edges, the HTML error pages (401 with the Basic challenge,
// helpful 404s, 400s), author content rendered inert, warnings recorded at push, artifacts in
// pack repositories, the CSP, the static files, read-only users, an open registry, and
// ui.enabled / ui.path.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { OCI_MANIFEST } from '../../src/oci/manifests.js'
import { UI_CSP } from '../../src/http/ui/index.js'
import { format } from '../../src/http/ui/render.js'
import { ADMIN, basic, READER, testApp } from '../helpers.js'
import { archive, get, packFiles, push, pushPack } from '../pack-fixtures.js'
import { descriptorOf, makeImage, pushImage, putManifest } from './v2-helpers.js'

/** The visible text of every match of `pattern`'s first group, tags stripped. */
function all(html: string, pattern: RegExp): string[] {
  return [...html.matchAll(pattern)].map((m) => (m[1] as string).replace(/<[^>]+>/g, '').trim())
}

/** Names of the packs listed on a packs page, in order. */
const listed = (html: string) => all(html, /<code>([a-z0-9._-]+)<\/code>(?:<\/div>| ·)/g)
/** The Next and Previous links of a page, decoded. */
function pager(html: string): { next: string | null; previous: string | null } {
  const link = (rel: string) => {
    const m = new RegExp(`<a href="([^"]+)" rel="${rel}"`).exec(html)
    return m ? (m[1] as string).replace(/&amp;/g, '&') : null
  }
  return { next: link('next'), previous: link('prev') }
}

async function page(app: FastifyInstance, url: string, authorization = ADMIN) {
  const res = await get(app, url, authorization)
  return { status: res.statusCode, html: res.body, headers: res.headers }
}

async function seedListing(app: FastifyInstance) {
  const packs = [
    { name: 'ubuntu', displayName: 'Ubuntu', layer: 'os', cloudTypes: ['aws', 'vsphere'], version: '22.04', group: 'LTS' },
    { name: 'calico', displayName: 'Calico', layer: 'cni', cloudTypes: ['all'], version: '3.26.1', addonType: 'network' },
    { name: 'nginx', displayName: 'NGINX Ingress', layer: 'addon', cloudTypes: ['aws'], version: '1.9.0', addonType: 'ingress' },
    { name: 'kubernetes', displayName: 'Palette eXtended Kubernetes', layer: 'k8s', cloudTypes: ['azure'], version: '1.28.2' },
    { name: 'vsphere-csi', displayName: 'vSphere CSI', layer: 'csi', cloudTypes: ['vsphere'], version: '3.0.0' },
  ]
  for (const p of packs) {
    await pushPack(app, p)
    // Distinct change times, in push order, for the "last change" order.
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('an empty registry: every page answers, and says what to do', async (t) => {
  const app = await testApp(t)
  const packs = await page(app, '/')
  t.equal(packs.status, 200)
  t.match(packs.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(packs.html, /No packs yet/)
  t.match(packs.html, /packyard pack push/)
  t.same(pager(packs.html), { next: null, previous: null })
  const oci = await page(app, '/oci')
  t.equal(oci.status, 200)
  t.match(oci.html, /Nothing here yet/)
  const registry = await page(app, '/registry')
  t.equal(registry.status, 200)
  t.match(registry.html, /Nothing has been pushed yet/)
  t.match(registry.html, /<li>removable now: 0 blobs \(0 B\)<\/li><li>within the 1h grace period: no unreferenced blobs<\/li><\/ul>/)
})

t.test('packs page: every pack with its facts; filters by name, layer and cloud; two orders', async (t) => {
  const app = await testApp(t)
  await seedListing(app)
  const { html } = await page(app, '/')
  t.same(listed(html), ['calico', 'kubernetes', 'nginx', 'ubuntu', 'vsphere-csi'], 'by name')
  t.match(html, /<h1>Packs <span class="count">5<\/span><\/h1>/)
  t.match(html, /NGINX Ingress<\/a>\s*<div class="muted"><code>nginx<\/code> · ingress/, 'display name and addon type')
  t.match(html, /<a href="\/packs\/ubuntu\/LTS__22.04">22.04<\/a> <span class="badge group" title="group">LTS<\/span>/, 'newest version with its group')
  t.match(html, /<span class="badge layer">csi<\/span>/)
  t.match(html, /<time datetime="\d{4}-\d\d-\d\dT/)

  t.same(listed((await page(app, '/?q=INGRESS')).html), ['nginx'], 'the display name matches, without case')
  t.same(listed((await page(app, '/?q=ub')).html), ['kubernetes', 'ubuntu'], 'a part of the name or display name')
  t.same(listed((await page(app, '/?layer=os')).html), ['ubuntu'])
  t.same(listed((await page(app, '/?cloud=aws')).html), ['calico', 'nginx', 'ubuntu'], 'packs for all clouds match every cloud')
  t.same(listed((await page(app, '/?cloud=vsphere&layer=csi')).html), ['vsphere-csi'])
  const none = await page(app, '/?cloud=maas&layer=os')
  t.match(none.html, /No pack matches these filters/)
  t.match(none.html, /<span class="count">0<\/span>/)
  t.same(listed((await page(app, '/?sort=changed')).html), ['vsphere-csi', 'kubernetes', 'nginx', 'calico', 'ubuntu'], 'last change first')

  const filtered = await page(app, '/?layer=os&utm_source=mail')
  t.equal(filtered.status, 200, 'unknown query parameters are dropped')
  t.match(filtered.html, /<option value="os" selected>os<\/option>/, 'the form shows the filters in use')
  t.match(filtered.html, /Clear filters/)

  const bad = await page(app, '/?sort=size')
  t.equal(bad.status, 400)
  t.match(bad.html, /<h1>This request cannot be answered<\/h1>/)
  t.match(bad.html, /querystring\/sort must be equal to one of the allowed values/)
})

t.test('packs page paging: next and previous, exact last page, both orders, bad positions', async (t) => {
  const app = await testApp(t)
  await seedListing(app)
  const first = await page(app, '/?n=2')
  t.same(listed(first.html), ['calico', 'kubernetes'])
  t.same(pager(first.html), { next: '/?n=2&after=kubernetes', previous: null })
  const second = await page(app, '/?n=2&after=kubernetes')
  t.same(listed(second.html), ['nginx', 'ubuntu'])
  t.same(pager(second.html), { next: '/?n=2&after=ubuntu', previous: '/?n=2&before=nginx' })
  const last = await page(app, '/?n=2&after=ubuntu')
  t.same(listed(last.html), ['vsphere-csi'])
  t.same(pager(last.html), { next: null, previous: '/?n=2&before=vsphere-csi' })
  const back = await page(app, '/?n=2&before=nginx')
  t.same(listed(back.html), ['calico', 'kubernetes'])
  t.same(pager(back.html), { next: '/?n=2&after=kubernetes', previous: null }, 'reading backwards to the start: no link to an empty page')

  const exact = await page(app, '/?n=5')
  t.equal(listed(exact.html).length, 5)
  t.same(pager(exact.html), { next: null, previous: null }, 'a page that holds exactly the rest links nowhere')
  const capped = await page(app, '/?n=100000')
  t.equal(capped.status, 200, 'n above the cap is capped')
  t.equal(listed(capped.html).length, 5)
  t.match((await page(app, '/?after=zzz')).html, /No packs on this page/)

  const byChange = await page(app, '/?sort=changed&n=2')
  t.same(listed(byChange.html), ['vsphere-csi', 'kubernetes'])
  const next = pager(byChange.html).next as string
  t.match(next, /^\/\?sort=changed&n=2&after=\d+%3Akubernetes$/)
  const then = await page(app, next)
  t.same(listed(then.html), ['nginx', 'calico'])
  t.same(listed((await page(app, pager(then.html).previous as string)).html), ['vsphere-csi', 'kubernetes'])

  for (const url of ['/?n=0', '/?n=two', '/?sort=changed&after=kubernetes', '/?after=a&before=b']) {
    const res = await page(app, url)
    t.equal(res.status, 400, url)
    t.match(res.headers['content-type'], /text\/html/, `${url}: an HTML page`)
  }
  t.match((await page(app, '/?sort=changed&after=kubernetes')).html, /not a position in this listing/)
})

t.test('a pack: versions by group in semver order, tags and parent tags, the selected version', async (t) => {
  const app = await testApp(t)
  for (const version of ['1.9.0', '1.10.0', '1.2.0', '2.0.0-rc.1']) await pushPack(app, { version })
  for (const version of ['20.04', '22.04']) await pushPack(app, { version, group: 'LTS' })
  const tag = await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN }, payload: { ref: '1.10.0' } })
  t.equal(tag.statusCode, 201)

  const { status, html } = await page(app, '/packs/hellouniverse')
  t.equal(status, 200)
  const groups = all(html, /<section class="version-group">\s*<h3>(.*?)<\/h3>/gs)
  t.same(groups, ['No group', 'Group LTS'], 'ungrouped first, then the groups')
  const versions = all(html, /<a href="\/packs\/hellouniverse\/[^"]+"(?: aria-current="page")?>([^<]+)<\/a>\s*<span class="tags">/g)
  t.same(versions, ['2.0.0-rc.1', '1.10.0', '1.9.0', '1.2.0', '22.04', '20.04'], 'semantic-version order, newest first')
  t.match(html, /<li class="selected">\s*<a href="\/packs\/hellouniverse\/LTS__22.04" aria-current="page">22.04<\/a>/, 'the newest version is selected')
  t.match(html, /<a href="\/packs\/hellouniverse\/1.10.0">1.10.0<\/a>\s*<span class="tags"><span class="badge tag" title="tag">stable<\/span> <span class="badge parent"[^>]*>1.10.x<\/span> <span class="badge parent"[^>]*>1.x<\/span>/, 'aliases and parent tags next to their version')
  t.match(html, /<a href="\/packs\/hellouniverse\/LTS__22.4.x">LTS__22.4.x<\/a><\/th><td>→ <a href="\/packs\/hellouniverse\/LTS__22.04">LTS__22.04<\/a>/, 'a grouped parent tag and what it points at')
  t.match(html, /<a href="\/packs\/hellouniverse\/1.x">1.x<\/a><\/th><td>→ <a href="\/packs\/hellouniverse\/1.10.0">1.10.0<\/a>/)

  const byParent = await page(app, '/packs/hellouniverse/1.x')
  t.match(byParent.html, /<h2 id="version-title">Version 1.10.0<\/h2>/, 'a parent tag selects the version it points at')
  t.match(byParent.html, /<li class="selected">\s*<a href="\/packs\/hellouniverse\/1.10.0" aria-current="page">/)
  t.match(byParent.html, /packyard pack pull hellouniverse:1.10.0 \.\/packs -r localhost:80/, 'commands name the version tag')
  t.match(byParent.html, /oras pull --plain-http localhost:80\/spectro-packs\/archive\/hellouniverse:1.10.0/)
  t.match(byParent.html, /curl -u admin -fOJ http:\/\/localhost:80\/v1\/_packs\/hellouniverse\/1.10.0\/archive/)
  const digest = /<dt>Archive digest<\/dt><dd><code class="digest">(sha256:[0-9a-f]{64})<\/code>/.exec(byParent.html)?.[1] as string
  const manifestDigest = /<dt>Manifest digest<\/dt><dd><code class="digest">(sha256:[0-9a-f]{64})<\/code>/.exec(byParent.html)?.[1] as string
  t.match(byParent.html, `oras pull --plain-http localhost:80/spectro-packs/archive/hellouniverse@${manifestDigest}`, 'pinned to the manifest digest')
  const byDigest = await page(app, `/packs/hellouniverse/${digest}`)
  t.equal(byDigest.status, 200)
  t.match(byDigest.html, /<h2 id="version-title">Version 1.10.0<\/h2>/)

  t.match(html, /<dt>Base content path<\/dt><dd><em>leave empty<\/em>/, 'what Palette needs (OCI mode)')
  t.match(html, /<dt>Endpoint<\/dt><dd><code>http:\/\/localhost:80<\/code><\/dd>/)
  t.match(html, /Palette connects over HTTPS/)
})

t.test('a pack: README, values, presets, schema, pack.json, files, digests and a forced push in its history', async (t) => {
  const app = await testApp(t)
  const files = {
    'README.md': '# Hello Universe\n\nA **demo** pack.\n\n| key | default |\n|:--|--:|\n| replicas | 1 |\n\n```yaml\nreplicas: 1\n```\n',
    'values.yaml': '# the namespace\npack:\n  namespace: hello\nreplicas: 1\n',
    'presets.yaml': 'presets:\n  - name: small\n    displayName: Small\n',
    'schema.yaml': "replicas: '{{ required | format \"${number}\" }}'\n",
    'charts/hello-1.0.0.tgz': 'not really a chart',
  }
  const first = await push(app, await archive(packFiles({}, files)))
  t.equal(first.statusCode, 201)
  const forced = await push(app, await archive(packFiles({}, { ...files, 'values.yaml': 'pack:\n  namespace: hello\nreplicas: 2\n' })), { force: 'true', message: 'two replicas' })
  t.equal(forced.statusCode, 200)

  const { html } = await page(app, '/packs/hellouniverse/1.0.0')
  t.match(html, /<div class="readme"><h4>Hello Universe<\/h4>\n<p>A <strong>demo<\/strong> pack.<\/p>/, 'README rendered, its headings below the page\'s')
  t.match(html, /<th class="align-left">key<\/th>\n<th class="align-right">default<\/th>/, 'table alignment as classes, not inline style')
  t.notMatch(html, /style=/, 'no inline style anywhere')
  t.match(html, /<pre><code class="language-yaml"><span class="hljs-attr">replicas:<\/span> <span class="hljs-number">1<\/span>/, 'fenced YAML highlighted')
  t.match(html, /<code class="hljs language-yaml"><span class="hljs-attr">pack:<\/span>\n  <span class="hljs-attr">namespace:<\/span> <span class="hljs-string">hello<\/span>\n<span class="hljs-attr">replicas:<\/span> <span class="hljs-number">2<\/span>/, 'values.yaml of the forced push, highlighted')
  t.match(html, /<summary><h3>presets.yaml<\/h3><\/summary>\s*<pre class="code"><code class="hljs language-yaml"><span class="hljs-attr">presets:<\/span>/)
  t.match(html, /<summary><h3>schema.yaml<\/h3><\/summary>/)
  t.match(html, /<span class="hljs-attr">&quot;displayName&quot;<\/span><span class="hljs-punctuation">:<\/span> <span class="hljs-string">&quot;Hello Universe&quot;<\/span>/, 'pack.json highlighted')
  t.match(html, /<tr><td><a class="file-link" href="\/packs\/hellouniverse\/1.0.0\/files\/charts\/hello-1.0.0.tgz"><code>charts\/hello-1.0.0.tgz<\/code><\/a><\/td><td class="num">18 B<\/td><\/tr>/, 'every file of the archive with its size')
  t.match(html, /<code>values.yaml<\/code><\/a> <a class="muted" href="\/v1\/_packs\/hellouniverse\/sha256:[0-9a-f]{64}\/files\/values.yaml">download<\/a>/)
  t.match(html, /6 files, /)
  t.match(html, /<dt>Content digest<\/dt><dd><code class="digest">sha256:[0-9a-f]{64}<\/code>/)

  const history = /<section id="history">(.*?)<\/section>/s.exec(html)?.[1] as string
  t.equal([...history.matchAll(/<tr(?: class="forced")?>\s*<td>/g)].length, 2, 'the push and the forced push')
  t.match(history, /<tr class="forced">\s*<td><time[^>]*>[^<]*<\/time><\/td>\s*<td>admin<\/td>\s*<td>update <code>1.0.0<\/code> <span class="badge forced">forced<\/span><\/td>\s*<td>two replicas<\/td>\s*<td class="digests"><code class="digest" title="(sha256:[0-9a-f]{64})">sha256:[0-9a-f]{12}<\/code> → <code class="digest" title="sha256:[0-9a-f]{64}">/, 'newest first: who, what, the message, old → new digest')
  t.ok(history.indexOf('update') < history.indexOf('create'), 'newest first')
})

t.test('a pack without logo or README, and one with a logo served as an image', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { name: 'plain', displayName: 'Plain' })
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex')
  await pushPack(app, { name: 'pretty', displayName: 'Pretty' }, { 'logo.png': png })

  const plain = await page(app, '/packs/plain')
  t.equal(plain.status, 200)
  t.match(plain.html, /<span class="logo logo-none" aria-hidden="true">P<\/span>/)
  t.match(plain.html, /This version has no README.md/)
  t.notMatch(plain.html, /presets.yaml<\/h3>/)

  const pretty = await page(app, '/packs/pretty')
  const logo = /<img class="logo" src="([^"]+)"/.exec(pretty.html)?.[1] as string
  t.match(logo, /^\/_logo\/pretty\/sha256:[0-9a-f]{64}$/, 'from the capped logo route')
  const list = await page(app, '/')
  t.match(list.html, `<img class="logo" src="${logo}" alt="" width="36" height="36" loading="lazy" decoding="async">`)
  const image = await get(app, logo)
  t.equal(image.statusCode, 200)
  t.equal(image.headers['content-type'], 'image/png', 'a logo is only ever served as an image')
  t.equal(image.headers['x-content-type-options'], 'nosniff')

  await pushPack(app, { name: 'webby', displayName: 'Webby' }, { 'logo.webp': Buffer.from('52494646240000005745425056503820', 'hex') })
  const webp = /<img class="logo" src="([^"]+)"/.exec((await page(app, '/packs/webby')).html)?.[1] as string
  t.match(webp, /^\/_logo\/webby\/sha256:[0-9a-f]{64}$/, 'a logo.webp is shown too')
  t.equal((await get(app, webp)).headers['content-type'], 'image/webp')
})

t.test('author content is inert: README HTML, links, names and values are escaped; only our script runs', async (t) => {
  const app = await testApp(t)
  const hostile = '<script>alert("readme")</script>\n\n<img src=x onerror="alert(1)">\n\n[click](javascript:alert(1)) ![pic](https://evil.example/x.png)\n\n<a href="https://evil.example">raw link</a>\n'
  await pushPack(
    app,
    { displayName: '<script>alert("name")</script>', addonType: '"><img src=x onerror=alert(2)>' },
    { 'README.md': hostile, 'values.yaml': 'x: "</code></pre><script>alert(3)</script>"\n' },
  )
  for (const url of ['/', '/packs/hellouniverse']) {
    const { html } = await page(app, url)
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])
    t.same(scripts, [scripts[0]], `${url}: exactly one script tag`)
    t.match(scripts[0], /^<script src="\/_static\/app\.[0-9a-f]{12}\.js" defer>$/, `${url}: and it is the browser's own`)
    t.notMatch(html, /<img src=x/i, `${url}: no author markup`)
    t.notMatch(html, /onerror="alert/, `${url}: no author attributes`)
    t.match(html, /&lt;script&gt;alert\(&quot;name&quot;\)&lt;\/script&gt;/, `${url}: the display name shown as text`)
  }
  const { html } = await page(app, '/packs/hellouniverse')
  t.match(html, '<p>&lt;script&gt;alert(&quot;readme&quot;)&lt;/script&gt;</p>', 'README HTML shown as text')
  t.match(html, /\[click\]\(javascript:alert\(1\)\)/, 'a javascript: link is not a link')
  t.match(html, /<a class="image-link" href="https:\/\/evil.example\/x.png" rel="nofollow noopener noreferrer">image: pic<\/a>/, 'images become links, never loaded')
  t.match(html, /<p>&lt;a href=&quot;<a href="https:\/\/evil.example" rel="nofollow noopener noreferrer">https:\/\/evil.example<\/a>&quot;&gt;raw link&lt;\/a&gt;<\/p>/, 'raw HTML is text (its URL linkified)')
  t.match(html, /&quot;&lt;\/code&gt;&lt;\/pre&gt;&lt;script&gt;alert\(3\)&lt;\/script&gt;&quot;/, 'values.yaml escaped by the highlighter')
})

t.test('headers: one strict CSP in place of the configured one, the other security headers; compression; no caching of pages', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  const res = await app.inject({ url: '/packs/hellouniverse', headers: { authorization: ADMIN, 'accept-encoding': 'gzip' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-security-policy'], UI_CSP, 'one header (not a list), the pages\' own policy')
  t.match(UI_CSP, /default-src 'none'/)
  t.notMatch(UI_CSP, /unsafe-inline|unsafe-eval/)
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['content-encoding'], 'gzip')
  t.equal(res.headers['cache-control'], 'private, no-cache')
  const api = await get(app, '/v1/_packs/hellouniverse')
  t.equal(api.headers['content-security-policy'], "img-src 'self'; script-src 'self'; style-src 'self'", 'the API keeps only the configured policy')
})

t.test('static files: no credentials, content-addressed names, cached for a year, 304', async (t) => {
  const app = await testApp(t)
  const { html } = await page(app, '/')
  const urls = [...html.matchAll(/(?:href|src)="(\/_static\/[^"]+)"/g)].map((m) => m[1] as string)
  t.same([...new Set(urls.map((u) => u.replace(/\.[0-9a-f]{12}\./, '.')))].sort(), ['/_static/app.css', '/_static/app.js', '/_static/icon.svg'])
  const types: Record<string, RegExp> = { css: /^text\/css/, js: /^text\/javascript/, svg: /^image\/svg\+xml/ }
  for (const url of new Set(urls)) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], types[url.split('.').pop() as string] as RegExp)
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable')
    const again = await app.inject({ url, headers: { 'if-none-match': res.headers.etag as string } })
    t.equal(again.statusCode, 304)
  }
  const missing = await app.inject({ url: '/_static/app.000000000000.css' })
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /reload the page/)
})

t.test('credentials: none or wrong get the Basic challenge and a sign-in page; read-only users browse everything', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  for (const url of ['/', '/packs/hellouniverse', '/packs/hellouniverse/1.0.0', '/oci', '/registry', '/packs/nope', '/packs/a/b/c']) {
    const anonymous = await app.inject({ url })
    t.equal(anonymous.statusCode, 401, url)
    t.equal(anonymous.headers['www-authenticate'], 'Basic realm="test-realm"', `${url}: the browser's own prompt`)
    t.match(anonymous.headers['content-type'], /^text\/html/)
    t.match(anonymous.body, /<h1>Sign in to browse this registry<\/h1>/)
    t.notMatch(anonymous.body, /hellouniverse/, `${url}: nothing of the registry shown`)
    const wrong = await page(app, url, basic('reader', 'wrong'))
    t.equal(wrong.status, 401)

    const reader = await page(app, url, READER)
    t.equal(reader.status, url.startsWith('/packs/nope') || url === '/packs/a/b/c' ? 404 : 200, `${url}: a read-only user`)
  }
  t.match((await page(app, '/', READER)).html, /Signed in as <strong>reader<\/strong>/)
})

t.test('helpful HTML 404s: unknown pack, tag, repository or page', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  const pack = await page(app, '/packs/hello')
  t.equal(pack.status, 404)
  t.match(pack.headers['content-type'], /^text\/html/)
  t.match(pack.html, /there is no pack named hello in this registry/)
  t.match(pack.html, /<a href="\/\?q=hello">Search the packs for “hello”<\/a>/)
  const tag = await page(app, '/packs/hellouniverse/9.9.9')
  t.equal(tag.status, 404)
  t.match(tag.html, /<a href="\/packs\/hellouniverse">See every version of hellouniverse<\/a>/)
  const digest = await page(app, `/packs/hellouniverse/sha256:${'0'.repeat(64)}`)
  t.equal(digest.status, 404)
  const repository = await page(app, '/oci/charts/nothing')
  t.equal(repository.status, 404)
  t.match(repository.html, /repository charts\/nothing is not known/)
  const deep = await page(app, '/packs/hellouniverse/1.0.0/extra')
  t.equal(deep.status, 404)
  t.match(deep.html, /there is no page at \/packs\/hellouniverse\/1.0.0\/extra/)
  const invalid = await page(app, '/packs/Not_Valid!')
  t.equal(invalid.status, 400)
  t.match(invalid.headers['content-type'], /^text\/html/)
  t.equal((await get(app, '/packs')).headers.location, '/')
  const api = await get(app, '/v2/unknown-endpoint')
  t.equal(api.statusCode, 404)
  t.match(api.headers['content-type'], /application\/json/, 'the API keeps its JSON errors')
})

t.test('other OCI content: repositories, tags with sizes, an index with its platforms, referrers', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  const image = makeImage('app')
  await pushImage(t, app, 'team/app', image, '1.0')
  const arm = makeImage('arm')
  await pushImage(t, app, 'team/app', arm)
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...descriptorOf(OCI_MANIFEST, image.manifest), platform: { os: 'linux', architecture: 'amd64' } },
        { ...descriptorOf(OCI_MANIFEST, arm.manifest), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }),
  )
  t.equal((await putManifest(app, 'team/app', 'multi', index, 'application/vnd.oci.image.index.v1+json')).statusCode, 201)
  const signature = makeImage('sig', 1, { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', subject: descriptorOf(OCI_MANIFEST, image.manifest) })
  await pushImage(t, app, 'team/app', signature)
  const untagged = makeImage('loose')
  await pushImage(t, app, 'team/app', untagged)

  const list = await page(app, '/oci')
  t.match(list.html, /<h1>Other OCI content <span class="count">1<\/span><\/h1>/, 'packs are not listed here')
  t.match(list.html, /<td><a href="\/oci\/team\/app">team\/app<\/a><\/td><td class="num">2<\/td><td class="num">5<\/td>/)
  t.match((await page(app, '/oci?q=nothing')).html, /No repository matches “nothing”/)

  const repo = await page(app, '/oci/team/app')
  t.equal(repo.status, 200)
  const size = image.manifest.length + image.config.length + image.layers.reduce((n, l) => n + l.length, 0)
  t.match(repo.html, new RegExp(`<th scope="row"><code>1.0</code></th>\\s*<td><code class="digest" title="${image.digest}">`), 'a tag and its digest')
  t.match(repo.html, `Referrers:</span><ul><li>application/vnd.dev.cosign.artifact.sig.v1+json <code class="digest" title="${signature.digest}">`)
  t.match(repo.html, /<li>linux\/amd64 <code class="digest"[^>]*>[^<]+<\/code> · [0-9.]+ [KB]/, 'an index lists its platforms')
  t.match(repo.html, /<li>linux\/arm64\/v8 /)
  t.match(repo.html, `<td class="num">${format.bytes(size)}</td>`, 'a tag\'s size counts its blobs')
  t.match(repo.html, /<h2>Untagged manifests<\/h2>/)
  t.match(repo.html, untagged.digest, 'a manifest reached by digest only')
  t.notMatch(/<h2>Untagged manifests<\/h2>(.*)/s.exec(repo.html)?.[1] ?? '', arm.digest, 'an index child is not "untagged"')
  t.match(repo.html, /oras pull --plain-http localhost:80\/team\/app:1.0/)

  const paged = await page(app, '/oci/team/app?n=1')
  t.match(paged.html, /<a href="\/oci\/team\/app\?n=1&amp;last=1.0" rel="next">More tags →<\/a>/)
  const packRedirect = await get(app, '/oci/spectro-packs/archive/hellouniverse')
  t.equal(packRedirect.statusCode, 302)
  t.equal(packRedirect.headers.location, '/packs/hellouniverse', 'a pack repository opens as the pack')
})

t.test('the registry page: version, storage, counts, latest pushes, garbage', async (t) => {
  const app = await testApp(t)
  await pushPack(app, {})
  await push(app, await archive(packFiles({}, { 'values.yaml': 'changed: true\n' })), { force: 'true', message: 'new values' })
  await pushPack(app, { name: 'other', version: '2.0.0' })
  await pushImage(t, app, 'team/app', makeImage('reg'), 'latest')

  const { html } = await page(app, '/registry')
  t.match(html, /Packyard \d+\.\d+\.\d+[^,]*, filesystem storage/)
  const stat = (label: string) => new RegExp(`<span class="value">([0-9,]+)</span><span class="label">${label}`).exec(html)?.[1]
  t.equal(stat('packs'), '2')
  t.equal(stat('pack versions'), '2')
  t.equal(stat('repositories'), '3')
  t.match(html, /\(1 not packs\)/)
  // The forced push replaced the archive; its old values.yaml is the other pack's too, so it stays.
  t.match(html, /<li>removable now: 0 blobs \(0 B\)<\/li><li>within the 1h grace period: 1 blob \([0-9.]+ K?i?B\) nothing refers to, the first removable after [0-9-]+ [0-9:]+ UTC<\/li>/, 'the replaced archive')
  t.match(html, /<td><a href="\/packs\/hellouniverse">hellouniverse<\/a><\/td>\s*<td><code>1.0.0<\/code> <span class="badge forced">forced<\/span><\/td>\s*<td>new values<\/td>/)
  t.match(html, /<a href="\/oci\/team\/app">team\/app<\/a>/)
  t.ok(html.indexOf('team/app') < html.indexOf('>hellouniverse<'), 'latest first')
})

t.test('an open registry (auth: none): pages without credentials, commands without a user', async (t) => {
  const app = await testApp(t, {}, { auth: false })
  await pushPack(app, {})
  const res = await app.inject({ url: '/packs/hellouniverse' })
  t.equal(res.statusCode, 200)
  t.match(res.body, /curl -fOJ http:\/\/localhost:80\/v1\/_packs\/hellouniverse\/1.0.0\/archive/)
  t.notMatch(res.body, /Signed in as/)
})

t.test('ui.enabled: false leaves / to the API; ui.path moves the browser and every link', async (t) => {
  const off = await testApp(t, { ui: { enabled: false } })
  const root = await get(off, '/')
  t.equal(root.statusCode, 404)
  t.match(root.headers['content-type'], /application\/json/)
  t.equal((await get(off, '/registry')).statusCode, 404)
  t.equal((await off.inject({ url: '/_static/app.css' })).statusCode, 404)

  const moved = await testApp(t, { ui: { path: '/ui/' } })
  await pushPack(moved, {})
  for (const url of ['/ui', '/ui/', '/ui/packs/hellouniverse', '/ui/oci', '/ui/registry']) t.equal((await get(moved, url)).statusCode, 200, url)
  const { body } = await get(moved, '/ui/packs/hellouniverse')
  const links = [...body.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1] as string).filter((l) => l.startsWith('/'))
  t.ok(links.length > 10)
  t.same(links.filter((l) => !l.startsWith('/ui/') && !l.startsWith('/v1/')), [], 'every link stays under /ui (or is an API download)')
  t.equal((await get(moved, '/')).statusCode, 404, '/ is the API\'s again')
  const unknown = await get(moved, '/ui/nowhere')
  t.equal(unknown.statusCode, 404)
  t.match(unknown.headers['content-type'], /^text\/html/, 'unknown pages under ui.path are HTML 404s')
  t.equal((await get(moved, '/ui/packs')).headers.location, '/ui/')
  t.equal((await moved.inject({ url: '/ui/packs/hellouniverse' })).statusCode, 401)
})

t.test('a pack with warnings recorded at push shows them; a layer outside the known ones is offered in the filter', async (t) => {
  const app = await testApp(t)
  const res = await push(app, await archive(packFiles({ name: 'warned', layer: 'gui', charts: ['charts/nginx-1.0.0.tgz'] })))
  t.equal(res.statusCode, 201)
  const { html } = await page(app, '/packs/warned')
  t.match(html, /<h3>Warnings recorded at push<\/h3>/)
  for (const w of res.json().warnings as Array<{ file: string; field: string | null; message: string }>) {
    t.match(html, `<li><code>${w.file}</code>${w.field ? ` <code>${w.field}</code>` : ''}: ${w.message.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</li>`)
  }
  const list = await page(app, '/')
  t.match(list.html, /<option value="gui">gui<\/option>/)
  t.same(listed((await page(app, '/?layer=gui')).html), ['warned'])
  const clean = await push(app, await archive(packFiles({}, { 'logo.png': Buffer.from('89504e470d0a1a0a', 'hex') })))
  t.same(clean.json().warnings, [])
  t.notMatch((await page(app, '/packs/hellouniverse')).html, /Warnings recorded/, 'a pack without warnings shows none')
})

t.test('artifacts in pack repositories: a repository of artifacts only, and a signature of a pack version', async (t) => {
  const app = await testApp(t)
  const ns = 'spectro-packs/archive'
  const pushed = await pushPack(app, {})
  const opaque = makeImage('opaque')
  await pushImage(t, app, `${ns}/opaque`, opaque, '3.1.0')
  const signed = makeImage('signed', 1, {
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    subject: { mediaType: OCI_MANIFEST, digest: pushed.manifestDigest, size: (await get(app, `/v2/${ns}/hellouniverse/manifests/1.0.0`)).rawPayload.length },
  })
  await pushImage(t, app, `${ns}/hellouniverse`, signed)

  const list = await page(app, '/')
  t.same(listed(list.html), ['hellouniverse', 'opaque'], 'a repository of artifacts is listed with the packs')
  t.match(list.html, /<span class="badge" title="this repository holds manifests that are not packs">artifacts only<\/span>/)
  t.match(list.html, /<a href="\/packs\/opaque\/3.1.0">3.1.0<\/a>/, 'its version-named tag is its newest version')
  t.match(list.html, /<div class="muted">0 versions, 1 artifact, 1 tag<\/div>/, 'counted apart')
  t.match(list.html, /<div class="muted">1 version, 1 tag<\/div>/, 'an untagged signature is not counted in the list')
  t.same(listed((await page(app, '/?layer=addon')).html), ['hellouniverse'], 'layer filters leave artifacts out')

  const artifacts = await page(app, '/packs/opaque')
  t.equal(artifacts.status, 200)
  t.match(artifacts.html, /<h2 id="version-title">Artifact 3.1.0<\/h2>/)
  t.match(artifacts.html, `<dt>Manifest digest</dt><dd><code class="digest">${opaque.digest}</code>`)
  t.match(artifacts.html, `oras pull --plain-http localhost:80/${ns}/opaque:3.1.0`)
  t.notMatch(artifacts.html, /<a href="\/packs\/opaque\/3.x">/, 'parent tags only ever point at pack versions, not at a version-named artifact')
  t.match(artifacts.html, /create <code>3.1.0<\/code>/, 'its history')
  t.notMatch(artifacts.html, /<h2>Versions<\/h2>/)
  t.equal((await page(app, '/packs/opaque/3.x')).status, 404, 'so there is no parent tag to select it by')
  t.equal((await page(app, `/packs/opaque/${opaque.digest}`)).status, 200, 'and so does its digest')
  t.equal((await get(app, `/oci/${ns}/opaque`)).headers.location, '/packs/opaque')

  const pack = await page(app, '/packs/hellouniverse')
  t.match(pack.html, /<h2 id="version-title">Version 1.0.0<\/h2>/, 'the pack version stays the default')
  t.match(pack.html, /<h2>Artifacts<\/h2>/)
  t.match(pack.html, `<a href="/packs/hellouniverse/${signed.digest}">`, 'an untagged artifact is reached by its digest')
  const sig = await page(app, `/packs/hellouniverse/${signed.digest}`)
  t.match(sig.html, /It refers to version <a href="\/packs\/hellouniverse\/1.0.0">1.0.0<\/a> \(its OCI subject\)/)
  t.match(sig.html, /<dt>Artifact type<\/dt><dd><code>application\/vnd.dev.cosign.artifact.sig.v1\+json<\/code>/)
  t.match(sig.html, `oras pull --plain-http localhost:80/${ns}/hellouniverse@${signed.digest}`)
})

t.test('the browser shows the same header as the API, for a pack accepted with odd types in pack.json', async (t) => {
  const app = await testApp(t)
  await pushPack(app, { name: 'odd', displayName: 'Odd', cloudTypes: 'aws', addonType: { kind: 'x' }, addonSubType: 7 })
  const row = /<tr>\s*<td class="pack-cell">.*?<\/tr>/s.exec((await page(app, '/')).html)?.[0] as string
  t.match(row, /<code>odd<\/code><\/div>/, 'no addon type shown for one that is not a string')
  t.match(row, /<td><span class="badge">aws<\/span> <\/td>/, 'a cloudTypes string is one cloud type')
  t.notMatch(row, /object Object|>7</)
  const api = (await get(app, '/v1/_packs/odd')).json()
  t.match(api, { cloudTypes: ['aws'], addonType: null, addonSubType: null })
  const { html } = await page(app, '/packs/odd')
  t.notMatch(html, /object Object/)
})
