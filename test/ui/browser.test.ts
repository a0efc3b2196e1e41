// The pack browser in a real browser: Debian's chromium driven by playwright-core (no browser
// download) against `packyard serve` on a loopback port. It signs in through the Basic
// challenge, lists packs, filters them, finds one by its README, opens a pack, switches versions, sees the README, the
// values and a forced push in the history, and checks that the page script ran and that the CSP
// blocked nothing the pages need; at a phone's 390 px, no page scrolls sideways, and a file of a
// version (and one inside its chart) opens from the version's file list. Screenshots go to the test's temp folder (or to the folder in
// PACKYARD_SCREENSHOTS, to keep them: docs/browse.png is pack.png). When chromium cannot
// start the test fails, in CI and everywhere else.

import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { ADMIN, makeHtpasswd, requireProgram, startServer, tempDir, USERS } from '../helpers.js'
import { archive, multipart, packFiles, type PackFiles } from '../pack-fixtures.js'
import { handArchive } from '../tar-fixtures.js'

// Without the background-networking flags chromium's own connections (updates, sync, field
// trials) are refused on a machine without internet access, and it may hang at start.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const LOGO_SIZE = 48

/** A real PNG logo (a coloured disc on white), so the <img> has something to decode and show. */
function logo(rgb: [number, number, number]): Buffer {
  const row = 1 + LOGO_SIZE * 3
  const pixels = Buffer.alloc(row * LOGO_SIZE, 0xff)
  const centre = (LOGO_SIZE - 1) / 2
  for (let y = 0; y < LOGO_SIZE; y++) {
    pixels[y * row] = 0 // filter: none
    for (let x = 0; x < LOGO_SIZE; x++) {
      if (Math.hypot(x - centre, y - centre) <= LOGO_SIZE * 0.42) pixels.set(rgb, y * row + 1 + x * 3)
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), data])))
    return Buffer.concat([length, Buffer.from(type), data, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(LOGO_SIZE, 0)
  header.writeUInt32BE(LOGO_SIZE, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8-bit RGB
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', header), chunk('IDAT', deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))])
}

async function pushOver(url: string, fields: Record<string, unknown>, extra: PackFiles = {}, form: Record<string, string> = {}): Promise<number> {
  const body = multipart(form, await archive(packFiles(fields, extra)))
  const res = await fetch(`${url}/v1/_packs`, { method: 'POST', body: body.payload, headers: { ...body.headers, authorization: ADMIN } })
  return res.status
}

async function launch(t: Test, profile: string): Promise<BrowserContext> {
  const executablePath = requireProgram('chromium')
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      httpCredentials: { username: 'reader', password: USERS.reader },
      viewport: { width: 1280, height: 900 },
    })
    t.teardown(() => context.close())
    return context
  } catch (err) {
    throw new Error(`chromium (${executablePath}) did not start; .ci/run installs it with apt-get: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** Console errors and failed requests of a page: a CSP violation shows up as either. */
function watch(page: Page): string[] {
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  // net::ERR_ABORTED is a load cancelled by the browser, as when the test moves on to the next
  // page before a logo of this one arrived (a busy machine); a server failing a request shows
  // as a bad status or a reset connection instead.
  page.on('requestfailed', (request) => {
    const error = request.failure()?.errorText ?? ''
    if (error !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.url()} ${error}`)
  })
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`)
  })
  return problems
}

t.test('a reader browses packs in chromium', async (t) => {
  const dir = tempDir(t, 'packyard-browser-')
  const config = join(dir, 'config.yml')
  writeFileSync(
    config,
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nauth:\n  htpasswd:\n    realm: browser-test\n    path: ${makeHtpasswd(dir, USERS)}\n`,
  )
  const server = await startServer(t, [config], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' })
  const url = server.url

  const readme =
    '# Hello Universe\n\nSays **hello** to the universe: a config map with a greeting, and as many replicas as you like.\n\n' +
    '## Settings\n\n| value | default | meaning |\n| --- | --: | --- |\n| `replicas` | 1 | how many greeters |\n| `pack.namespace` | hello | where they run |\n'
  const hello = { 'README.md': readme, 'logo.png': logo([37, 99, 235]) }
  const values = (replicas: number) => `# Where the pack is installed\npack:\n  namespace: hello\n# How many greeters\nreplicas: ${replicas}\ngreeting: "hello, universe"\n`
  t.equal(await pushOver(url, { addonType: 'system app' }, { ...hello, 'values.yaml': values(1) }), 201)
  t.equal(await pushOver(url, { version: '1.1.0', addonType: 'system app' }, { ...hello, 'values.yaml': values(3) }), 201)
  t.equal(await pushOver(url, { addonType: 'system app' }, { ...hello, 'values.yaml': values(2) }, { force: 'true', message: 'two replicas' }), 200, 'a forced push of 1.0.0')
  t.equal(await pushOver(url, { name: 'ubuntu', displayName: 'Ubuntu', layer: 'os', version: '22.04', group: 'LTS', cloudTypes: ['aws', 'vsphere'] }, { 'logo.png': logo([233, 84, 32]) }), 201)
  t.equal(await pushOver(url, { name: 'calico', displayName: 'Calico', layer: 'cni', version: '3.26.1', cloudTypes: ['all'] }, { 'logo.png': logo([249, 115, 22]) }), 201)

  // PACKYARD_SCREENSHOTS keeps them somewhere else (docs/browse.png is one of them).
  const shots = process.env.PACKYARD_SCREENSHOTS ?? join(dir, 'screenshots')
  mkdirSync(shots, { recursive: true })
  const context = await launch(t, join(dir, 'chromium-profile'))
  const page = await context.newPage()
  const problems = watch(page)

  // Signing in: the first answer is the 401 challenge, which chromium answers with the credentials.
  const first = await page.goto(`${url}/`)
  t.equal(first?.status(), 200, 'signed in through the Basic challenge')
  t.equal(await page.locator('h1').innerText(), 'Packs 3')
  t.same(await page.locator('table.packs .pack-link').allInnerTexts(), ['Calico', 'Hello Universe', 'Ubuntu'])
  t.match(await page.locator('.user').innerText(), /Signed in as reader/)
  t.notMatch(await page.locator('table.packs time').first().innerText(), /UTC/, 'the page script ran: times in the reader\'s zone')
  await page.screenshot({ path: join(shots, 'packs.png'), fullPage: true })

  // Filters: a select submits on change (script), the name filter with Enter.
  await Promise.all([page.waitForURL(/layer=os/), page.selectOption('select[name="layer"]', 'os')])
  t.same(await page.locator('table.packs .pack-link').allInnerTexts(), ['Ubuntu'], 'filtered by layer')
  await page.click('text=Clear filters')
  await page.fill('input[name="q"]', 'hello')
  await Promise.all([page.waitForURL(/q=hello/), page.press('input[name="q"]', 'Enter')])
  t.same(await page.locator('table.packs .pack-link').allInnerTexts(), ['Hello Universe'], 'filtered by name')
  await page.screenshot({ path: join(shots, 'filtered.png'), fullPage: true })
  // Search reads the README too: "greeters" is only in its table of settings.
  await page.fill('input[name="q"]', 'greeters')
  await Promise.all([page.waitForURL(/q=greeters/), page.press('input[name="q"]', 'Enter')])
  t.same(await page.locator('table.packs .pack-link').allInnerTexts(), ['Hello Universe'], 'found by its README text')

  // A pack: the newest version first, its README and values.
  await Promise.all([page.waitForURL(/\/packs\/hellouniverse$/), page.click('text=Hello Universe')])
  t.equal(await page.locator('.pack-head h1').innerText(), 'Hello Universe')
  t.equal(await page.locator('#version-title').innerText(), 'Version 1.1.0')
  t.equal(await page.locator('.readme h4').innerText(), 'Hello Universe', 'the README rendered')
  t.equal(await page.locator('.readme strong').innerText(), 'hello')
  t.match(await page.locator('#values pre').innerText(), /replicas: 3/, 'values.yaml shown')
  t.equal(await page.locator('#values .hljs-attr').first().innerText(), 'pack:', 'and highlighted')
  const logoWidth = await page.locator('.pack-head img.logo').evaluate((img) => (img as { naturalWidth: number }).naturalWidth)
  t.equal(logoWidth, LOGO_SIZE, 'the logo loaded as an image (same credentials, allowed by the CSP)')
  t.ok(await page.locator('#pull button.copy').first().isVisible(), 'copy buttons shown by the script')
  await page.screenshot({ path: join(shots, 'pack.png'), fullPage: true })
  await page.screenshot({ path: join(shots, 'browse.png') })

  // Another version, and its history with the forced push.
  await Promise.all([page.waitForURL(/\/packs\/hellouniverse\/1\.0\.0$/), page.click('.versions a:text-is("1.0.0")')])
  t.equal(await page.locator('#version-title').innerText(), 'Version 1.0.0')
  t.match(await page.locator('#values pre').innerText(), /replicas: 2/, 'the forced push\'s values')
  const forced = page.locator('#history tr.forced')
  t.equal(await forced.count(), 1)
  t.match(await forced.innerText(), /admin\s+update 1\.0\.0 forced\s+two replicas/)
  await page.screenshot({ path: join(shots, 'version.png'), fullPage: true })

  await Promise.all([page.waitForURL(/\/registry$/), page.click('nav >> text=Registry')])
  t.match(await page.locator('.stats').innerText(), /3\s+packs/)
  t.match(await page.locator('table.history').first().innerText(), /two replicas/, 'the latest pushes')
  t.match(await page.locator('#replicas table').innerText(), /\(this page\).*\blive\b/, 'the server itself among the replicas')
  await page.screenshot({ path: join(shots, 'registry.png'), fullPage: true })
  await Promise.all([page.waitForURL(/\/oci$/), page.click('nav >> text=Other OCI content')])
  t.match(await page.locator('h1').innerText(), /Other OCI content 0/)

  // Only the sign-in challenge of the first page load may show up as a 4xx.
  t.same(
    problems.filter((p) => !/^401 /.test(p)),
    [],
    'no console errors, no CSP violations, no failed requests',
  )
})

const PHONE = { width: 390, height: 844 }
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** An image in another repository (one config, one layer), for the OCI pages. */
async function pushImage(url: string, repo: string, tag: string): Promise<void> {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}')
  const layer = Buffer.from('a layer of an image with a long name')
  for (const blob of [config, layer]) {
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, { method: 'POST', body: blob, headers: { authorization: ADMIN, 'content-type': 'application/octet-stream' } })
    if (res.status !== 201) throw new Error(`blob upload: ${res.status}`)
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  })
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { authorization: ADMIN, 'content-type': 'application/vnd.oci.image.manifest.v1+json' } })
  if (res.status !== 201) throw new Error(`manifest: ${res.status}`)
}

t.test('at a phone\'s width no page scrolls sideways; a file of a version opens, and one in its chart', async (t) => {
  const dir = tempDir(t, 'packyard-browser-phone-')
  const config = join(dir, 'config.yml')
  writeFileSync(config, `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nauth:\n  htpasswd:\n    realm: browser-test\n    path: ${makeHtpasswd(dir, USERS)}\n`)
  const server = await startServer(t, [config], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' })
  const url = server.url

  // Long names, long lines and wide tables: what would push a page sideways.
  const long = 'a-very-long-pack-name-that-goes-on-and-on-without-any-break-at-all'
  const chart = await handArchive([
    { name: 'app/Chart.yaml', content: 'apiVersion: v2\nname: app\nversion: 1.0.0\n' },
    { name: 'app/templates/deployment.yaml', content: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  annotations:\n    note: "${'wide '.repeat(60)}"\n` },
  ])
  const files = {
    'values.yaml': `pack:\n  namespace: hello\nimage: registry.example.com/${'deeply/nested/'.repeat(12)}image:1.0.0\n`,
    'README.md': `# Hello\n\n| a | b | c | d | e |\n| --- | --- | --- | --- | --- |\n| ${'cell '.repeat(8)} | ${long} | x | y | z |\n\n\`\`\`yaml\nkey: ${'long '.repeat(40)}\n\`\`\`\n`,
    [`manifests/${long}.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: "${'hello '.repeat(50)}"\n`,
    'charts/app-1.0.0.tgz': chart,
  }
  t.equal(await pushOver(url, { name: long, displayName: `A Display Name ${long}`, addonType: 'system app' }, files), 201)
  t.equal(await pushOver(url, {}, { 'values.yaml': 'pack:\n  namespace: hello\n' }), 201)
  await pushImage(url, `library/${long}`, 'v1.0.0-with-a-long-tag-name')

  const shots = process.env.PACKYARD_SCREENSHOTS ?? join(dir, 'screenshots')
  mkdirSync(shots, { recursive: true })
  const context = await launch(t, join(dir, 'chromium-profile'))
  const page = await context.newPage()
  await page.setViewportSize(PHONE)
  const problems = watch(page)

  // A file from the version's file list, then one inside the chart.
  t.equal((await page.goto(`${url}/packs/${long}/1.0.0`))?.status(), 200)
  await Promise.all([page.waitForURL(/\/files\/manifests\//), page.click(`table.files a:has-text("manifests/${long}.yaml")`)])
  t.equal(await page.locator('#file-title').innerText(), `${long}.yaml`)
  t.match(await page.locator('pre.file-code').innerText(), /greeting: "hello hello/, 'the file is shown')
  t.equal(await page.locator('pre.file-code .hljs-attr').first().innerText(), 'apiVersion:', 'and highlighted')
  await page.screenshot({ path: join(shots, 'file.png'), fullPage: true })
  await Promise.all([page.waitForURL(/\/packs\/[^/]+\/1\.0\.0#files$/), page.click('.crumbs a:text-is("1.0.0")')])
  await Promise.all([page.waitForURL(/\/files\/charts\/app-1\.0\.0\.tgz$/), page.click('table.files a:has-text("charts/app-1.0.0.tgz")')])
  await Promise.all([page.waitForURL(/\/app-1\.0\.0\.tgz\/app\/templates\/deployment\.yaml$/), page.click('table.files a:has-text("app/templates/deployment.yaml")')])
  t.match(await page.locator('pre.file-code').innerText(), /kind: Deployment/, 'a chart\'s template opens')

  const pages = [
    ['packs', '/'],
    ['pack', `/packs/${long}`],
    ['version', `/packs/${long}/1.0.0`],
    ['file', `/packs/${long}/1.0.0/files/manifests/${long}.yaml`],
    ['chart', `/packs/${long}/1.0.0/files/charts/app-1.0.0.tgz`],
    ['chart file', `/packs/${long}/1.0.0/files/charts/app-1.0.0.tgz/app/templates/deployment.yaml`],
    ['another pack\'s version', '/packs/hellouniverse/1.0.0'],
    ['registry', '/registry'],
    ['oci', '/oci'],
    ['oci repository', `/oci/library/${long}`],
    ['client', '/client'],
  ] as const
  for (const [kind, path] of pages) {
    const res = await page.goto(`${url}${path}`)
    t.equal(res?.status(), 200, `${kind} page`)
    // A string: the test is compiled without the DOM's types.
    const width = await page.evaluate<number>('document.documentElement.scrollWidth')
    t.ok(width <= PHONE.width, `${kind}: no sideways scrolling at ${PHONE.width} px (the page is ${width} px wide)`)
    await page.screenshot({ path: join(shots, `phone-${kind.replace(/ /g, '-')}.png`), fullPage: true })
  }
  t.same(problems, [], 'no console errors, no CSP violations, no failed requests')
})
