// The single-file client served by the registry (/_client/...) and the pack browser's "Get the
// client" page: without credentials, with the sha256 beside each file and the version and commit
// in headers; nothing built, the way to build it. The files here are small stand-ins written
// with a manifest as the build writes it; test/cli/single-file.test.ts downloads a real build.

import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { CLIENT_MANIFEST, type ClientManifest, NOT_BUILT } from '../../src/client-files.js'
import { buildCommit, VERSION } from '../../src/version.js'
import { ADMIN, tempDir, testConfig } from '../helpers.js'

async function appServing(t: Test, clientDir: string) {
  const app = await buildApp(testConfig(t), { clientDir })
  t.teardown(() => app.close())
  return app
}

/** Writes each file and the manifest the build would write for them. */
function built(dir: string, files: Record<string, Buffer>, release = { version: VERSION, commit: buildCommit() }): ClientManifest {
  mkdirSync(dir, { recursive: true })
  const targets: Record<string, ClientManifest['files'][number]['target']> = { 'packyard-linux-x64': 'linux-x64', 'packyard-linux-arm64': 'linux-arm64', 'packyard-win-x64.exe': 'win-x64' }
  const manifest: ClientManifest = {
    ...release,
    node: '24.21.0',
    files: Object.entries(files).map(([file, bytes]) => {
      writeFileSync(join(dir, file), bytes)
      return { file, target: targets[file] as ClientManifest['files'][number]['target'], size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), inputs: 'test' }
    }),
  }
  writeFileSync(join(dir, CLIENT_MANIFEST), JSON.stringify(manifest))
  return manifest
}

/** The text of an HTML page as a reader copies it. */
function text(html: string): string {
  return html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}

const LINUX_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'
const WINDOWS_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'

t.test('nothing built: every /_client/ answer and the page say how to build the files', async (t) => {
  const app = await appServing(t, join(tempDir(t), 'client'))
  for (const url of ['/_client/', '/_client/packyard-linux-x64', '/_client/packyard-linux-x64.sha256']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404, `${url}: no credentials asked`)
    t.same(res.json(), { errors: [{ code: 'NOT_FOUND', message: NOT_BUILT }] })
  }
  t.match(NOT_BUILT, 'npm run build:client')
  const page = await app.inject({ url: '/client', headers: { authorization: ADMIN } })
  t.equal(page.statusCode, 200)
  t.match(text(page.body), 'This registry has no client files: run `npm run build:client` in the Packyard checkout it runs from')
  t.match(page.body, '>Get the client</a>', 'the top bar links to the page')
})

t.test('the files, their sha256, version and commit, ranges and revalidation, without credentials', async (t) => {
  const dir = join(tempDir(t), 'client')
  const x64 = Buffer.from('\x7fELF x64 '.repeat(1000))
  const manifest = built(dir, { 'packyard-linux-x64': x64, 'packyard-linux-arm64': Buffer.from('\x7fELF arm64'), 'packyard-win-x64.exe': Buffer.from('MZ win') })
  const app = await appServing(t, dir)
  const sha = manifest.files[0]?.sha256 as string

  const list = await app.inject({ url: '/_client/' })
  t.equal(list.statusCode, 200)
  t.same(list.json(), {
    version: VERSION,
    commit: buildCommit(),
    node: '24.21.0',
    files: [
      { file: 'packyard-linux-x64', os: 'linux', arch: 'x64', size: x64.length, sha256: sha, url: 'http://localhost:80/_client/packyard-linux-x64' },
      { file: 'packyard-linux-arm64', os: 'linux', arch: 'arm64', size: 10, sha256: manifest.files[1]?.sha256, url: 'http://localhost:80/_client/packyard-linux-arm64' },
      { file: 'packyard-win-x64.exe', os: 'win', arch: 'x64', size: 6, sha256: manifest.files[2]?.sha256, url: 'http://localhost:80/_client/packyard-win-x64.exe' },
    ],
  })

  const file = await app.inject({ url: '/_client/packyard-linux-x64' })
  t.equal(file.statusCode, 200)
  t.ok(file.rawPayload.equals(x64), 'the bytes')
  t.match(file.headers, {
    'content-type': 'application/octet-stream',
    'content-length': String(x64.length),
    'content-disposition': 'attachment; filename="packyard"',
    'cache-control': 'no-cache',
    etag: `"sha256:${sha}"`,
    'docker-content-digest': `sha256:${sha}`,
    'x-packyard-version': VERSION,
    'x-packyard-commit': buildCommit(),
  })
  const checksum = await app.inject({ url: '/_client/packyard-linux-x64.sha256' })
  t.equal(checksum.statusCode, 200)
  t.equal(checksum.body, `${sha}  packyard-linux-x64\n`, 'as sha256sum -c reads it')
  t.equal(createHash('sha256').update(file.rawPayload).digest('hex'), sha)

  const range = await app.inject({ url: '/_client/packyard-linux-x64', headers: { range: 'bytes=1000-' } })
  t.equal(range.statusCode, 206, 'an interrupted download resumes')
  t.ok(range.rawPayload.equals(x64.subarray(1000)))
  t.equal((await app.inject({ url: '/_client/packyard-linux-x64', headers: { 'if-none-match': `"sha256:${sha}"` } })).statusCode, 304)
  const head = await app.inject({ method: 'HEAD', url: '/_client/packyard-linux-x64' })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(x64.length))
  t.equal((await app.inject({ url: '/_client/packyard-win-x64.exe' })).headers['content-disposition'], 'attachment; filename="packyard.exe"')

  const unknown = await app.inject({ url: '/_client/packyard-darwin-arm64' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().errors[0].message, 'there is no client file packyard-darwin-arm64; this registry has packyard-linux-x64, packyard-linux-arm64, packyard-win-x64.exe')
  t.equal((await app.inject({ url: '/_client/..%2Fmanifest.json' })).statusCode, 400, 'only plain file names')
  t.equal((await app.inject({ url: `/_client/${CLIENT_MANIFEST}` })).statusCode, 404, 'the manifest is not a download')
})

t.test('Get the client: copyable commands for the reader\'s platform first, each file\'s sha256', async (t) => {
  const dir = join(tempDir(t), 'client')
  const manifest = built(dir, { 'packyard-linux-x64': Buffer.from('x64'), 'packyard-linux-arm64': Buffer.from('arm64'), 'packyard-win-x64.exe': Buffer.from('win') })
  const app = await appServing(t, dir)
  const linuxDownload = `curl -fsSLo packyard http://localhost:80/_client/packyard-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/') && chmod +x packyard`

  const linux = await app.inject({ url: '/client', headers: { authorization: ADMIN, 'user-agent': LINUX_UA } })
  t.equal(linux.statusCode, 200)
  const page = text(linux.body)
  t.match(page, `data-copy="${linuxDownload}"`, 'the one line that gets the client')
  t.match(page, `data-copy="echo "$(curl -fsSL http://localhost:80/_client/packyard-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/').sha256 | cut -d' ' -f1)  packyard" | sha256sum -c"`)
  t.match(page, 'data-copy="./packyard registry login localhost:80 --insecure"', 'plain HTTP here, so --insecure')
  t.match(page, 'data-copy="curl.exe -fsSLo packyard.exe http://localhost:80/_client/packyard-win-x64.exe"')
  t.ok(page.indexOf('<h2>Linux') < page.indexOf('<h2>Windows'), 'Linux first for a Linux browser')
  t.match(page, '<h2>Linux <span class="badge">your platform</span></h2>')
  for (const f of manifest.files) t.match(page, f.sha256)
  t.notMatch(page, 'class="warnings"', 'the files are this registry\'s own release')

  const windows = text((await app.inject({ url: '/client', headers: { authorization: ADMIN, 'user-agent': WINDOWS_UA } })).body)
  t.ok(windows.indexOf('<h2>Windows') < windows.indexOf('<h2>Linux'), 'Windows first for a Windows browser')

  const onlyX64 = join(tempDir(t), 'x64-only')
  built(onlyX64, { 'packyard-linux-x64': Buffer.from('x64') }, { version: VERSION, commit: 'an-older-one' })
  const older = await appServing(t, onlyX64)
  const olderPage = text((await older.inject({ url: '/client', headers: { authorization: ADMIN, 'user-agent': LINUX_UA } })).body)
  t.match(olderPage, 'data-copy="curl -fsSLo packyard http://localhost:80/_client/packyard-linux-x64 && chmod +x packyard"', 'one Linux file: its own name')
  t.match(olderPage, `These files are Packyard ${VERSION} (commit an-older-one), but this registry runs ${VERSION} (commit ${buildCommit()})`)
  t.equal((await older.inject({ url: '/client' })).statusCode, 401, 'the page is the browser\'s, behind its login; the files are not')
})
