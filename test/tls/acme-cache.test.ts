// The Let's Encrypt cache file: absent or empty is an empty cache, a round trip keeps
// everything with mode 0600 (whatever the old file's mode), and a folder or another program's
// file is refused naming http.tls.letsencrypt.cachefile, at start-up too, as is one that cannot be written.

import t from 'tap'
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { readAcmeCache, writeAcmeCache } from '../../src/tls/acme-cache.js'
import { tempDir, testConfig } from '../helpers.js'

const EMPTY = { accountKey: null, accounts: {}, certificate: null }

t.test('absent, empty, written and read back', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'sub', 'cache.json')
  t.same(await readAcmeCache(path), EMPTY, 'absent')
  mkdirSync(join(dir, 'sub'))
  writeFileSync(path, '')
  chmodSync(path, 0o644)
  t.same(await readAcmeCache(path), EMPTY, 'empty')
  const cache = {
    accountKey: '-----BEGIN PRIVATE KEY-----\naccount\n-----END PRIVATE KEY-----\n',
    accounts: { 'https://acme.test/dir': 'https://acme.test/acct/1' },
    certificate: { directoryUrl: 'https://acme.test/dir', chain: 'chain', key: 'key' },
  }
  await writeAcmeCache(path, cache)
  t.same(await readAcmeCache(path), cache)
  t.equal(statSync(path).mode & 0o777, 0o600, 'private keys inside: mode 0600')
})

t.test('a folder or a foreign file is refused naming the setting', async (t) => {
  const dir = tempDir(t)
  const foreign = join(dir, 'letsencrypt.json')
  writeFileSync(foreign, JSON.stringify({ Reg: {}, Key: 'x' }))
  const notJson = join(dir, 'config.yml')
  writeFileSync(notJson, 'version: 0.1\n')
  const cases: Array<[string, RegExp]> = [
    [dir, new RegExp(`^config: http\\.tls\\.letsencrypt\\.cachefile: ${dir} is a folder; name a file`)],
    [foreign, new RegExp(`^config: http\\.tls\\.letsencrypt\\.cachefile: ${foreign} is not a Packyard certificate cache`)],
    [notJson, /is not a Packyard certificate cache \(another program's file\?\); move it away or name another file$/],
  ]
  for (const [path, message] of cases) {
    await t.rejects(readAcmeCache(path), { message }, path)
    const config = testConfig(t, { http: { tls: { letsencrypt: { cachefile: path, hosts: ['registry.test'] } } } })
    await t.rejects(buildApp(config), { message }, `${path}: at start-up`)
  }
})

t.test('a cache file that cannot be written stops start-up naming it, before any ACME order', async (t) => {
  // Nobody, root included, creates files in /proc.
  const path = '/proc/packyard-acme-cache.json'
  const config = testConfig(t, { http: { tls: { letsencrypt: { cachefile: path, hosts: ['registry.test'], directoryurl: 'https://acme.invalid/directory' } } } })
  await t.rejects(buildApp(config), { message: /^config: http\.tls\.letsencrypt\.cachefile: cannot write \/proc\/packyard-acme-cache\.json \(E[A-Z]+\)/ })
})
