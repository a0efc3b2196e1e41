// The API reference page (GET /docs) in a real browser: Debian's chromium driven by
// playwright-core against `packyard serve` with auth on. The page needs no credentials, loads
// /openapi.json from the registry itself, lists the operations, and its one
// Content-Security-Policy blocks nothing it needs (a violation shows up as a console error).
// When chromium cannot start the test fails, in CI and everywhere else.

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { makeHtpasswd, requireProgram, startServer, tempDir, USERS } from '../helpers.js'

t.test('the API reference page renders the description under its CSP, without credentials', async (t) => {
  const dir = tempDir(t, 'packyard-docs-')
  const config = join(dir, 'config.yml')
  writeFileSync(config, `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nauth:\n  htpasswd:\n    realm: docs-test\n    path: ${makeHtpasswd(dir, USERS)}\n`)
  const server = await startServer(t, [config], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' })

  const head = await fetch(`${server.url}/docs`)
  t.equal(head.status, 200, 'no credentials needed')
  t.equal(head.headers.get('content-security-policy')?.includes("script-src 'self'"), true, 'one policy of its own')
  t.notOk(head.headers.get('content-security-policy')?.includes(','), 'a single Content-Security-Policy')

  const executablePath = requireProgram('chromium')
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`)
  })

  await page.goto(`${server.url}/docs`)
  await page.locator('.opblock').first().waitFor({ timeout: 20_000 })
  t.ok((await page.locator('.opblock').count()) > 50, 'every operation is listed')
  t.match(await page.locator('.info .title').innerText(), /Packyard/)
  t.ok(await page.getByText('/v1/_packs/{name}/{ref}/archive').first().isVisible(), 'the pack routes, with their parameters named')
  await page.screenshot({ path: join(dir, 'docs.png') })
  t.same(problems, [], 'nothing failed or was blocked')
})
