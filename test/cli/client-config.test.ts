import t from 'tap'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  defaultServer,
  findEntry,
  parseServer,
  readClientConfig,
  removeEntry,
  resolveHome,
  selectEntry,
  setEntry,
  writeClientConfig,
} from '../../src/cli/client-config.js'
import { CliError, UsageError } from '../../src/cli/command.js'
import { tempDir } from '../helpers.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

t.test('resolveHome: --home wins, else $HOME/.spectro', async (t) => {
  t.equal(resolveHome('/x/y', { HOME: '/home/a' }), '/x/y')
  t.equal(resolveHome(undefined, { HOME: '/home/a' }), '/home/a/.spectro')
  t.throws(() => resolveHome('', {}), UsageError)
})

t.test('parseServer: host:port, prefixes and trailing slashes tolerated', async (t) => {
  t.same(parseServer('registry.example.com:5000'), { server: 'registry.example.com:5000', host: 'registry.example.com', port: 5000, scheme: null })
  t.same(parseServer('https://Registry.Example.com:443/'), { server: 'registry.example.com:443', host: 'registry.example.com', port: 443, scheme: 'https' })
  t.same(parseServer('HTTP://10.0.0.5:5000//'), { server: '10.0.0.5:5000', host: '10.0.0.5', port: 5000, scheme: 'http' })
  t.same(parseServer('myhost'), { server: 'myhost', host: 'myhost', port: null, scheme: null })
  t.same(parseServer('[::1]:5000'), { server: '[::1]:5000', host: '::1', port: 5000, scheme: null })
  for (const bad of ['', 'https://', 'host:5000/v1', 'host:99999', 'host:0', 'user@host:1', 'a b:1', 'host:port']) {
    t.throws(() => parseServer(bad), UsageError, bad)
  }
  t.throws(() => parseServer('host:5000/v1'), /without a path/)
})

t.test('a missing config is empty; a hand-written spectro config just works', async (t) => {
  const home = tempDir(t)
  const empty = await readClientConfig(home)
  t.same(empty.doc, { auths: {} })
  t.equal(defaultServer(empty), undefined)
  t.throws(() => selectEntry(empty, undefined), /not logged in to any registry .*packyard registry login HOST:PORT/)

  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({
      auths: {
        'spectro.io:5000': { auth: b64('admin:p:ss'), insecure: true, extra: 1 },
        'https://other.io:443/': { auth: b64('bob:pw'), insecure: 'true' },
      },
      defaultRegistry: 'spectro.io:5000',
      somethingElse: { keep: true },
    }),
  )
  const config = await readClientConfig(home)
  t.same(findEntry(config, 'spectro.io:5000'), { server: 'spectro.io:5000', user: 'admin', password: 'p:ss', auth: b64('admin:p:ss'), insecure: true })
  t.equal(findEntry(config, 'other.io:443')?.insecure, true, 'a prefixed key and a string "true" are understood')
  t.equal(selectEntry(config, undefined).server, 'spectro.io:5000')
  t.equal(selectEntry(config, 'https://other.io:443').user, 'bob')
  t.throws(() => selectEntry(config, 'nowhere:1'), /not logged in to nowhere:1 .*packyard registry login nowhere:1/)

  setEntry(config, { server: 'new.io:5000', user: 'u', password: 'p', insecure: false, makeDefault: false })
  t.equal(config.doc.defaultRegistry, 'spectro.io:5000', 'a later login does not steal the default')
  const path = await writeClientConfig(config)
  t.equal(path, join(home, 'config.json'))
  const written = JSON.parse(readFileSync(path, 'utf8'))
  t.same(written.somethingElse, { keep: true }, 'unknown top-level keys kept')
  t.equal(written.auths['spectro.io:5000'].extra, 1, 'unknown entry keys kept')
  t.same(written.auths['new.io:5000'], { auth: b64('u:p') }, 'insecure only written when true')
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.same(readdirSync(home), ['config.json'], 'no temp files left behind')
})

t.test('first login becomes the default; -d moves it; logout clears it', async (t) => {
  const home = join(tempDir(t), 'nested', '.spectro')
  const config = await readClientConfig(home)
  setEntry(config, { server: 'a.io:1', user: 'u', password: 'p', insecure: true, makeDefault: false })
  t.equal(config.doc.defaultRegistry, 'a.io:1')
  setEntry(config, { server: 'b.io:2', user: 'u', password: 'p', insecure: false, makeDefault: false })
  t.equal(config.doc.defaultRegistry, 'a.io:1')
  setEntry(config, { server: 'b.io:2', user: 'v', password: 'q', insecure: false, makeDefault: true })
  t.equal(config.doc.defaultRegistry, 'b.io:2')
  t.equal(findEntry(config, 'b.io:2')?.user, 'v', 'a second login replaces the credentials')
  await writeClientConfig(config)
  t.equal(statSync(home).mode & 0o777, 0o700, 'home created private')

  t.equal(removeEntry(config, 'b.io:2'), true)
  t.equal(config.doc.defaultRegistry, undefined)
  t.equal(removeEntry(config, 'b.io:2'), false)
  t.equal(selectEntry(config, undefined).server, 'a.io:1', 'the only login left is used without a default')
  setEntry(config, { server: 'c.io:3', user: 'u', password: 'p', insecure: false, makeDefault: false })
  t.equal(config.doc.defaultRegistry, 'c.io:3', 'with no default left, the next login becomes it')
  removeEntry(config, 'c.io:3')
  setEntry(config, { server: 'd.io:4', user: 'u', password: 'p', insecure: false, makeDefault: false })
  t.equal(config.doc.defaultRegistry, 'd.io:4')
  config.doc.defaultRegistry = 'gone.io:9'
  setEntry(config, { server: 'e.io:5', user: 'u', password: 'p', insecure: false, makeDefault: false })
  t.equal(config.doc.defaultRegistry, 'e.io:5', 'a default naming a server without a login counts as none')
  config.doc.defaultRegistry = ''
  t.throws(() => selectEntry(config, undefined), /no default registry .*-r HOST:PORT/)
})

t.test('broken config files are named with what is wrong', async (t) => {
  const home = tempDir(t)
  const file = join(home, 'config.json')
  const cases: Array<[string, RegExp]> = [
    ['{not json', /config\.json is not valid JSON/],
    ['[]', /must hold a JSON object/],
    ['{"auths": []}', /"auths" must be an object/],
    ['{"auths": {"a:1": "x"}}', /auths\["a:1"\] must be an object/],
    ['{"defaultRegistry": 5}', /"defaultRegistry" must be a string/],
  ]
  for (const [text, message] of cases) {
    writeFileSync(file, text)
    await t.rejects(readClientConfig(home), message, text)
  }
  writeFileSync(file, '')
  t.same((await readClientConfig(home)).doc, { auths: {} }, 'an empty file means no logins')

  writeFileSync(file, JSON.stringify({ auths: { 'a.io:1': {}, 'b.io:2': { auth: '!!!' }, 'c.io:3': { auth: b64('nocolon') } } }))
  const config = await readClientConfig(home)
  t.throws(() => findEntry(config, 'a.io:1'), /has no "auth"; log in again/)
  t.throws(() => findEntry(config, 'b.io:2'), /must be the base64 of user:password/)
  t.throws(() => findEntry(config, 'c.io:3'), CliError)
  writeFileSync(file, JSON.stringify({ auths: { 'a.io:1': { auth: b64('u:p') }, 'b.io:1': { auth: b64('u:p') } }, defaultRegistry: 'not a server/' }))
  const bad = await readClientConfig(home)
  t.throws(() => selectEntry(bad, undefined), /defaultRegistry "not a server\/" is not host:port/)
})

t.test('an unreadable or unwritable home is a clear error', async (t) => {
  const dir = tempDir(t)
  const blocker = join(dir, 'file')
  writeFileSync(blocker, '')
  const home = join(blocker, 'home')
  await t.rejects(readClientConfig(home), /cannot read .*config\.json: ENOTDIR/)
  const config = { home, path: join(home, 'config.json'), doc: { auths: {} } }
  await t.rejects(writeClientConfig(config), /cannot write .*config\.json/)
})
