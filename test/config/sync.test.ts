// sync.registries: what a valid entry becomes, the override through REGISTRY_SYNC_REGISTRIES, and
// an error naming the entry and key for each bad value.

import t from 'tap'
import { ConfigError } from '../../src/config/leaf.js'
import { loadConfig } from '../../src/config/load.js'

const load = (registries: unknown, env: NodeJS.ProcessEnv = {}) => loadConfig({ doc: { storage: { inmemory: {} }, ...(registries === undefined ? {} : { sync: { registries } }) }, env })

t.test('an entry with every key, and the defaults', async (t) => {
  t.same(load(undefined).sync.registries, [])
  const [r] = load([
    {
      url: 'https://up.example.com/',
      api: 'v2',
      basepath: '/production/',
      username: 'u',
      password: 'p',
      tlsverify: false,
      certdir: '/certs',
      ondemand: true,
      ondemandtimeout: '5s',
      pollinterval: '6h',
      content: [{ packs: ['kubernetes', 'cni-*'], versions: '>=1.28.0', tags: '^1\\.', excludetags: '-rc' }],
      retries: 5,
      retrydelay: '2s',
      maxconcurrency: 8,
    },
  ]).sync.registries
  t.match(r, { url: 'https://up.example.com', api: 'v2', basePath: 'production', username: 'u', password: 'p', credentialsFile: null, tlsVerify: false, certDir: '/certs', onDemand: true, onDemandTimeoutMs: 5000, pollIntervalMs: 6 * 3600_000, retries: 5, retryDelayMs: 2000, maxConcurrency: 8 })
  t.match(r?.content[0], { packs: ['kubernetes', 'cni-*'], versions: '>=1.28.0', tags: /^1\./, excludeTags: /-rc/ })
  const [d] = load([{ url: 'http://up:5000' }]).sync.registries
  t.match(d, { api: 'v1', basePath: '', username: null, tlsVerify: true, onDemand: false, onDemandTimeoutMs: 30_000, pollIntervalMs: 0, content: [], retries: 3, retryDelayMs: 1000, maxConcurrency: 4 })
})

t.test('REGISTRY_SYNC_REGISTRIES takes the list as YAML flow', async (t) => {
  const [r] = load(undefined, { REGISTRY_SYNC_REGISTRIES: '[{url: "https://up.example.com", credentialsfile: /run/secrets/up, pollinterval: 0}]' }).sync.registries
  t.match(r, { url: 'https://up.example.com', credentialsFile: '/run/secrets/up', pollIntervalMs: 0 })
})

t.test("distribution's proxy section is one on-demand upstream with all content", async (t) => {
  const c = loadConfig({ doc: { storage: { inmemory: {} }, proxy: { remoteurl: 'https://packs.example.com', username: 'u', password: 'p', ttl: '168h' } }, env: {} })
  t.same(c.sync.registries.map((r) => [r.url, r.api, r.basePath, r.username, r.password, r.onDemand, r.pollIntervalMs, r.content]), [['https://packs.example.com', 'v2', '', 'u', 'p', true, 0, []]])
  t.same(c.ignoredKeys, ['proxy.ttl'])
  const fromEnv = loadConfig({ doc: { storage: { inmemory: {} } }, env: { REGISTRY_PROXY_REMOTEURL: 'https://packs.example.com' } })
  t.equal(fromEnv.sync.registries[0]?.url, 'https://packs.example.com')
  const bad = t.throws(() => loadConfig({ doc: { storage: { inmemory: {} }, proxy: { remoteurl: 'packs.example.com' } }, env: {} })) as unknown
  t.equal((bad as ConfigError).key, 'proxy.remoteurl')
  const twice = t.throws(() => load([{ url: 'https://packs.example.com' }], { REGISTRY_PROXY_REMOTEURL: 'https://packs.example.com/' })) as unknown
  t.match((twice as Error).message, /proxy\.remoteurl: https:\/\/packs\.example\.com is in sync\.registries too/)
})

t.test('each bad value names its entry and key', async (t) => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ url: 'https://a' }, 'sync.registries', /must be a list/],
    [[{}], 'sync.registries[0].url', /name the upstream registry/],
    [[{ url: 'ftp://a' }], 'sync.registries[0].url', /http:\/\/ or https:\/\//],
    [[{ url: 'https://u:p@a' }], 'sync.registries[0].url', /must not hold credentials/],
    [[{ url: 'https://a/v1' }], 'sync.registries[0].url', /without a path/],
    [[{ url: 'https://a', api: 'v3' }], 'sync.registries[0].api', /must be v1 .* or v2/],
    [[{ url: 'https://a', basepath: 'x' }], 'sync.registries[0].basepath', /only an api: v2 upstream/],
    [[{ url: 'https://a', api: 'v2', basepath: 'Bad Path' }], 'sync.registries[0].basepath', /OCI repository path/],
    [[{ url: 'https://a', username: 'u' }], 'sync.registries[0].password', /both username and password/],
    [[{ url: 'https://a', username: 'u', password: 'p', credentialsfile: '/f' }], 'sync.registries[0].credentialsfile', /not both/],
    [[{ url: 'https://a', ondemand: 'sometimes' }], 'sync.registries[0].ondemand', /true or false/],
    [[{ url: 'https://a', pollinterval: 'often' }], 'sync.registries[0].pollinterval', /duration/],
    [[{ url: 'https://a', ondemandtimeout: '0s' }], 'sync.registries[0].ondemandtimeout', /longer than 0s/],
    [[{ url: 'https://a', maxconcurrency: 0 }], 'sync.registries[0].maxconcurrency', /between 1 and 64/],
    [[{ url: 'https://a', tlsverify: 'maybe' }], 'sync.registries[0].tlsverify', /true or false/],
    [[{ url: 'https://a', colour: 'red' }], 'sync.registries[0].colour', /unknown key/],
    [[{ url: 'https://a', content: [{ packs: ['Bad/Name'] }] }], 'sync.registries[0].content[0].packs', /globs/],
    [[{ url: 'https://a', content: [{ versions: 'soonish' }] }], 'sync.registries[0].content[0].versions', /not a semver range/],
    [[{ url: 'https://a', content: [{ tags: '(' }] }], 'sync.registries[0].content[0].tags', /not a valid regular expression/],
    [[{ url: 'https://a', content: [{ packs: ['x'], version: '1' }] }], 'sync.registries[0].content[0].version', /unknown key/],
    [[{ url: 'https://a' }, { url: 'https://a/' }], 'sync.registries[1].url', /listed twice/],
  ]
  for (const [registries, key, message] of cases) {
    const err = t.throws(() => load(registries)) as unknown
    t.type(err, ConfigError)
    t.equal((err as ConfigError).key, key, JSON.stringify(registries))
    t.match((err as Error).message, message)
  }
})
