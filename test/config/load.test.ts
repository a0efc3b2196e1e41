import t from 'tap'
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { readFileSync } from 'node:fs'
import { ConfigError } from '../../src/config/leaf.js'
import { loadConfig, parseAddr } from '../../src/config/load.js'
import { SPECTRO_SECURITY_HEADERS } from '../../src/config/schema.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { tempDir } from '../helpers.js'

function catchError(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('built-in defaults (no file, no env)', async (t) => {
  const c = loadConfig({ file: undefined, env: {}, doc: { storage: { filesystem: {} }, auth: { htpasswd: {} } } })
  t.equal(c.http.addr, ':5000')
  t.equal(c.http.host, '0.0.0.0')
  t.equal(c.http.port, 5000)
  t.equal(c.storage.kind, 'filesystem')
  t.equal(c.storage.rootdirectory, './data')
  t.same(c.auth, { realm: 'basic-realm', htpasswdPath: join('data', 'htpasswd'), writers: ['admin'] })
  t.same(c.http.headers, SPECTRO_SECURITY_HEADERS)
  t.equal(c.oci.namespace, 'spectro-packs/archive')
  t.equal(c.log.level, 'info')
  t.same(c.log.fields, { service: 'registry' })
})

t.test('config.example.yaml documents the built-in defaults exactly', async (t) => {
  const example = loadConfig({ file: join(PACKAGE_ROOT, 'config.example.yaml'), env: {} })
  const builtIn = loadConfig({ doc: { storage: { filesystem: {} }, auth: { htpasswd: {} } }, env: {} })
  t.same({ ...example, source: '', file: null }, { ...builtIn, source: '' })
  const doc = parseYaml(readFileSync(join(PACKAGE_ROOT, 'config.example.yaml'), 'utf8')) as Record<string, unknown>
  t.ok(doc.limits && doc.oci && doc.http, 'every section is written out')
})

t.test('YAML file with the spectro-registry keys', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'config.yml')
  writeFileSync(
    file,
    `version: 0.1
log:
  level: debug
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /data/.spectro-server
http:
  addr: :5001
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: basic-realm
    path: /auth/htpasswd-basic
`,
  )
  const c = loadConfig({ file, env: {} })
  t.equal(c.source, file)
  t.equal(c.log.level, 'debug')
  t.equal(c.storage.rootdirectory, '/data/.spectro-server')
  t.equal(c.http.port, 5001)
  t.same(c.http.headers, { 'X-Content-Type-Options': ['nosniff'] })
  t.equal(c.auth?.htpasswdPath, '/auth/htpasswd-basic')
  t.same(c.ignoredKeys, ['storage.cache'])
})

t.test("distribution's other sections are accepted and named as having no effect", async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'config.yml')
  writeFileSync(
    file,
    `version: 0.1
loglevel: info
log:
  accesslog:
    disabled: true
http:
  addr: :5000
  debug:
    addr: :5001
    prometheus:
      enabled: true
  http2:
    disabled: false
redis:
  addr: localhost:6379
notifications:
  endpoints:
    - name: alistener
      url: https://listener.example.com/event
health:
  storagedriver:
    enabled: true
    interval: 10s
middleware:
  storage:
    - name: cloudfront
proxy:
  remoteurl: https://registry-1.docker.io
validation:
  disabled: true
`,
  )
  const c = loadConfig({ file, env: {} })
  t.equal(c.http.port, 5000)
  t.same([...c.ignoredKeys].sort(), ['health', 'http.debug', 'http.http2', 'log.accesslog', 'loglevel', 'middleware', 'redis', 'validation'])
  t.match(c.sync.registries, [{ url: 'https://registry-1.docker.io', api: 'v2', onDemand: true, content: [] }], 'proxy.remoteurl is an on-demand upstream')
  t.same(c.notifications.endpoints.map((e) => [e.name, e.url, e.timeoutMs, e.threshold, e.backoffMs, e.format]), [['alistener', 'https://listener.example.com/event', 1000, 10, 1000, 'distribution']])
})

t.test('storage.s3 with distribution\'s keys, Spectro\'s host and port, and REGISTRY_STORAGE_S3_*', async (t) => {
  const minio = loadConfig({
    doc: { storage: { s3: { bucket: 'packs', regionendpoint: 'http://minio:9000', accesskey: 'AK', secretkey: 'SK', rootdirectory: '/registry/', chunksize: '16MiB', v4auth: true, multipartcopythresholdsize: 33554432 }, redirect: { disable: false } } },
    env: {},
  })
  t.equal(minio.storage.kind, 's3')
  t.same(minio.storage.s3, {
    bucket: 'packs',
    region: 'us-east-1',
    endpoint: 'http://minio:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    rootdirectory: 'registry',
    skipVerify: false,
    partSize: 16 * 1024 * 1024,
    encryption: null,
    storageClass: 'STANDARD',
  })
  t.equal(minio.storage.redirect, true)
  t.equal(minio.storage.databasePath, join('data', 'registry.db'))
  t.equal(minio.storage.rootdirectory, 'data', 'the local data directory is the database\'s folder')
  t.same(minio.ignoredKeys, ['storage.s3.v4auth', 'storage.s3.multipartcopythresholdsize'])

  const spectro = loadConfig({ doc: { storage: { s3: { bucket: 'b', host: 'ceph.local', port: 7480, secure: false, encrypt: true, keyid: 'k1', storageclass: 'NONE' } }, database: { path: '/var/lib/packyard/meta.db' } }, env: {} })
  t.match(spectro.storage, { databasePath: '/var/lib/packyard/meta.db', rootdirectory: '/var/lib/packyard', redirect: false })
  t.match(spectro.storage.s3, { endpoint: 'http://ceph.local:7480', credentials: null, encryption: { kind: 'aws:kms', keyId: 'k1' }, storageClass: null })

  const aws = loadConfig({ doc: { storage: { s3: { bucket: 'b', region: 'eu-west-1', encrypt: true } } }, env: {} })
  t.match(aws.storage.s3, { endpoint: null, region: 'eu-west-1', forcePathStyle: false, encryption: { kind: 'AES256' } })

  const fromEnv = loadConfig({
    file: join(PACKAGE_ROOT, 'config.example.yaml'),
    env: { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'envbucket', REGISTRY_STORAGE_S3_REGIONENDPOINT: 'https://r2.example.com', REGISTRY_STORAGE_S3_ACCESSKEY: 'a', REGISTRY_STORAGE_S3_SECRETKEY: 's', REGISTRY_STORAGE_REDIRECT_DISABLE: 'false', REGISTRY_DATABASE_PATH: '/data/registry.db' },
  })
  t.match(fromEnv.storage, { kind: 's3', databasePath: '/data/registry.db', redirect: true, s3: { bucket: 'envbucket', endpoint: 'https://r2.example.com' } })

  const fs = loadConfig({ doc: { storage: { filesystem: { rootdirectory: '/srv/p' }, redirect: { disable: false } } }, env: {} })
  t.match(fs.storage, { kind: 'filesystem', databasePath: join('/srv/p', 'registry.db'), redirect: false, s3: null })
})

t.test('storage.filesystem.accelredirect: off by default, a location prefix from the file or the environment', async (t) => {
  t.equal(loadConfig({ doc: { storage: { filesystem: {} } }, env: {} }).storage.accelRedirect, null)
  t.equal(loadConfig({ doc: { storage: { filesystem: { accelredirect: '' } } }, env: {} }).storage.accelRedirect, null, 'empty: off')
  t.equal(loadConfig({ doc: { storage: { filesystem: { accelredirect: '/_packyard/blobs/' } } }, env: {} }).storage.accelRedirect, '/_packyard/blobs/')
  t.equal(loadConfig({ env: { REGISTRY_STORAGE_FILESYSTEM_ACCELREDIRECT: '/internal/blob-files/' } }).storage.accelRedirect, '/internal/blob-files/')
  t.equal(loadConfig({ doc: { storage: { s3: { bucket: 'b' } } }, env: {} }).storage.accelRedirect, null, 'S3: off')
})

t.test('a config file without an auth section keeps users, as no config does; an open registry is asked for by name', async (t) => {
  const root = { storage: { filesystem: { rootdirectory: '/srv/p' } } }
  const noAuth = loadConfig({ doc: root, env: {} })
  t.same(noAuth.auth, { realm: 'basic-realm', htpasswdPath: '/srv/p/htpasswd', writers: ['admin'] }, 'the htpasswd of the data directory')
  t.same(loadConfig({ doc: { ...root, auth: null }, env: {} }).auth, noAuth.auth, 'an empty auth section likewise')
  t.same(loadConfig({ doc: { ...root, auth: { access: { writers: ['ci'] } } }, env: {} }).auth, { ...noAuth.auth, writers: ['ci'] }, 'writers alone: htpasswd too')
  t.equal(loadConfig({ doc: { ...root, auth: { none: {} } }, env: {} }).auth, null, 'auth: {none: {}}')
  t.equal(loadConfig({ doc: { ...root, auth: 'none' }, env: {} }).auth, null, 'auth: none')
  t.equal(loadConfig({ doc: root, env: { REGISTRY_AUTH: 'none' } }).auth, null, 'REGISTRY_AUTH=none')
  t.same(loadConfig({ doc: { ...root, auth: 'none' }, env: { REGISTRY_AUTH: 'htpasswd' } }).auth, noAuth.auth, 'REGISTRY_AUTH=htpasswd over a file\'s none')
  t.same(loadConfig({ env: {} }).auth?.htpasswdPath, 'data/htpasswd', 'no config at all: the same default')
})

t.test('REGISTRY_* environment overrides', async (t) => {
  const base = { storage: { filesystem: {} } }
  const cases: Array<[Record<string, string>, (c: ReturnType<typeof loadConfig>) => unknown, unknown]> = [
    [{ REGISTRY_HTTP_ADDR: ':5055' }, (c) => c.http.port, 5055],
    [{ REGISTRY_HTTP_ADDR: '127.0.0.1:0' }, (c) => [c.http.host, c.http.port], ['127.0.0.1', 0]],
    [{ REGISTRY_LOG_LEVEL: 'warn' }, (c) => c.log.level, 'warn'],
    [{ REGISTRY_AUTH: 'htpasswd' }, (c) => c.auth?.realm, 'basic-realm'],
    [{ REGISTRY_AUTH: 'htpasswd', REGISTRY_AUTH_HTPASSWD_REALM: 'r', REGISTRY_AUTH_HTPASSWD_PATH: '/auth/h' }, (c) => [c.auth?.realm, c.auth?.htpasswdPath], ['r', '/auth/h']],
    [{ REGISTRY_AUTH_HTPASSWD_PATH: '/auth/h' }, (c) => c.auth?.htpasswdPath, '/auth/h'],
    [{ REGISTRY_STORAGE: 'inmemory' }, (c) => c.storage.kind, 'inmemory'],
    [{ REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/srv/p' }, (c) => c.storage.rootdirectory, '/srv/p'],
    [{ REGISTRY_STORAGE_DELETE_ENABLED: 'false' }, (c) => c.storage.deleteEnabled, false],
    [{ REGISTRY_AUTH: 'htpasswd', REGISTRY_AUTH_ACCESS_WRITERS: 'admin, ci' }, (c) => c.auth?.writers, ['admin', 'ci']],
    [{ REGISTRY_LIMITS_ARCHIVESIZE: '2GiB' }, (c) => c.limits.archiveSize, 2 * 1024 ** 3],
    [{ REGISTRY_LIMITS_ENTRIES: '500' }, (c) => c.limits.entries, 500],
    [{ REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '1h30m' }, (c) => c.storage.uploadPurging.ageMs, 5_400_000],
    [{ REGISTRY_OCI_NAMESPACE: 'packs' }, (c) => c.oci.namespace, 'packs'],
    [{ REGISTRY_HTTP_TLS_MINIMUMTLS: 'tls1.3' }, (c) => c.http.tls, null],
    [{}, (c) => [c.log.formatter, c.metrics], ['auto', { enabled: true, addr: null }]],
    [{ REGISTRY_LOG_FORMATTER: 'text' }, (c) => c.log.formatter, 'text'],
    [{ REGISTRY_LOG_FORMATTER: 'logstash' }, (c) => c.log.formatter, 'json'],
    [{ REGISTRY_METRICS_ADDR: ':9090' }, (c) => c.metrics.addr, { addr: ':9090', host: '0.0.0.0', port: 9090 }],
    [{ REGISTRY_METRICS_ENABLED: 'false', REGISTRY_METRICS_ADDR: ':9090' }, (c) => c.metrics, { enabled: false, addr: null }],
  ]
  for (const [env, pick, want] of cases) {
    t.same(pick(loadConfig({ doc: base, env })), want, JSON.stringify(env))
  }
  t.equal(loadConfig({ doc: { storage: { filesystem: {} }, auth: { htpasswd: {} } }, env: { REGISTRY_AUTH: 'none' } }).auth, null, 'REGISTRY_AUTH=none turns auth off')
})

t.test('unknown keys and bad values stop start-up naming the key', async (t) => {
  const cases: Array<[Record<string, unknown>, Record<string, string>, string, RegExp]> = [
    [{ htp: {} }, {}, 'htp', /unknown key/],
    [{ http: { adr: ':1' } }, {}, 'http.adr', /unknown key.*addr/],
    [{ log: { formatter: 'fancy' } }, {}, 'log.formatter', /must be one of auto, text, json, logstash/],
    [{ metrics: { addr: '9090' } }, {}, 'metrics.addr', /host:port/],
    [{ metrics: { enabled: false, addr: 'localhost' } }, {}, 'metrics.addr', /host:port/],
    [{ http: { addr: 'localhost' } }, {}, 'http.addr', /host:port/],
    [{ http: { addr: ':70000' } }, {}, 'http.addr', /out of range/],
    [{ log: { level: 'loud' } }, {}, 'log.level', /one of/],
    [{ storage: { delete: { enabled: 'yes' } } }, {}, 'storage.delete.enabled', /true or false/],
    [{ storage: { filesystem: {}, inmemory: {} } }, {}, 'storage', /not both/],
    [{ storage: { s3: {} } }, {}, 'storage.s3.bucket', /name the bucket/],
    [{ storage: { s3: { bucket: 'b' }, filesystem: {} } }, {}, 'storage', /not both filesystem and s3.*REGISTRY_STORAGE=s3/],
    [{ storage: { s3: { bucket: 'b', chunksize: '1MiB' } } }, {}, 'storage.s3.chunksize', /at least 5MiB/],
    [{ storage: { s3: { bucket: 'b', accesskey: 'AK' } } }, {}, 'storage.s3.secretkey', /both accesskey and secretkey/],
    [{ storage: { s3: { bucket: 'b', host: 'h', regionendpoint: 'http://h' } } }, {}, 'storage.s3.host', /not both/],
    [{ storage: { s3: { bucket: 'b', storageclass: 'CHEAP' } } }, {}, 'storage.s3.storageclass', /one of/],
    [{ storage: { azure: {} } }, {}, 'storage.azure', /not supported/],
    [{ limits: { archivesize: '12 parsecs' } }, {}, 'limits.archivesize', /size/],
    [{ limits: { entries: 0 } }, {}, 'limits.entries', /between/],
    [{ limits: { manifestsize: '64MiB' } }, {}, 'limits.manifestsize', /must be at most 32MiB \(33554432 bytes\)/],
    [{ limits: { manifestsize: 33554433 } }, {}, 'limits.manifestsize', /at most 32MiB/],
    [{ http: { trustedproxies: ['0.0.0.0/0'] } }, {}, 'http.trustedproxies', /"0\.0\.0\.0\/0" is not an IP address \(10\.0\.0\.7\) or a CIDR block .* prefix length is 1 to 32 for IPv4, 1 to 128 for IPv6 \(a \/0 would trust anyone's X-Forwarded-For/],
    [{ http: { trustedproxies: ['::/0'] } }, {}, 'http.trustedproxies', /"::\/0" is not .*a \/0 would trust anyone's/],
    [{}, { REGISTRY_HTTP_TRUSTEDPROXIES: '10.0.0.0/8,0.0.0.0/0' }, 'http.trustedproxies', /"0\.0\.0\.0\/0"/],
    [{ storage: { maintenance: { uploadpurging: { age: 'soon' } } } }, {}, 'storage.maintenance.uploadpurging.age', /duration/],
    [{ http: { tls: { certificate: '/x.pem' } } }, {}, 'http.tls.key', /both/],
    [{ http: { headers: { 'Bad Header': 'x' } } }, {}, 'http.headers', /valid header/],
    [{ auth: { token: {} } }, {}, 'auth.token', /not supported/],
    [{ http: { tls: { letsencrypt: { hosts: ['r.example.com'] } } } }, {}, 'http.tls.letsencrypt.cachefile', /needs a cache file.*http\.tls\.letsencrypt\.hosts is set without it/],
    [{}, { REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL: 'a@b.c' }, 'http.tls.letsencrypt.cachefile', /http\.tls\.letsencrypt\.email is set without it/],
    [{ http: { tls: { certificate: '/c.pem', key: '/k.pem', letsencrypt: { cachefile: '/c.json', hosts: 'r.example.com' } } } }, {}, 'http.tls.letsencrypt.cachefile', /not both/],
    [{ http: { tls: { letsencrypt: { cachefile: '/c.json' } } } }, {}, 'http.tls.letsencrypt.hosts', /name the hosts/],
    [{ http: { tls: { letsencrypt: { cachefile: '/c.json', hosts: ['192.0.2.1'] } } } }, {}, 'http.tls.letsencrypt.hosts', /not a DNS name/],
    [{ http: { tls: { letsencrypt: { cachefile: '/c.json', hosts: ['*.example.com'] } } } }, {}, 'http.tls.letsencrypt.hosts', /not a DNS name.*wildcards/],
    [{ http: { tls: { letsencrypt: { cachefile: '/c.json', hosts: ['r.example.com'], directoryurl: 'http://acme.local/dir' } } } }, {}, 'http.tls.letsencrypt.directoryurl', /https:\/\//],
    [{ http: { tls: { letsencrypt: { cachefile: '/c.json', hosts: ['r.example.com'], httpaddr: '80' } } } }, {}, 'http.tls.letsencrypt.httpaddr', /host:port/],
    [{ http: { tls: { letsencrypt: { cachefile: '/c.json', hosts: ['r.example.com'], starttimeout: 'a while' } } } }, {}, 'http.tls.letsencrypt.starttimeout', /duration/],
    [{ oci: { namespace: 'Spectro Packs' } }, {}, 'oci.namespace', /repository path/],
    [{ storage: { s3: { bucket: 'b' }, filesystem: { accelredirect: '/_packyard/blobs/' } } }, {}, 'storage.filesystem.accelredirect', /only from filesystem storage, not s3 \(storage\.redirect\.disable: false/],
    [{ storage: { s3: { bucket: 'b' } } }, { REGISTRY_STORAGE_FILESYSTEM_ACCELREDIRECT: '/_packyard/blobs/' }, 'storage.filesystem.accelredirect', /not s3/],
    [{ storage: { inmemory: {} } }, { REGISTRY_STORAGE_FILESYSTEM_ACCELREDIRECT: '/_packyard/blobs/' }, 'storage.filesystem.accelredirect', /only from filesystem storage, not inmemory; remove it/],
    [{ storage: { filesystem: { accelredirect: '_packyard/blobs' } } }, {}, 'storage.filesystem.accelredirect', /must be a path that starts and ends with \//],
    [{ storage: { filesystem: { accelredirect: '/_packyard/blobs' } } }, {}, 'storage.filesystem.accelredirect', /starts and ends with \/.*got "\/_packyard\/blobs"/],
    [{}, { REGISTRY_STORAGE_FILESYSTEM_ACCELREDIRECT: '_packyard/blobs/' }, 'storage.filesystem.accelredirect', /starts and ends with \//],
    [{ storage: { filesystem: { accelredirect: '/' } } }, {}, 'storage.filesystem.accelredirect', /such as \/_packyard\/blobs\//],
    [{ storage: { filesystem: { accelredirect: '/blobs/../' } } }, {}, 'storage.filesystem.accelredirect', /letters, digits/],
    [{ storage: { filesystem: { accelredirect: '/v2/blobs/' } } }, {}, 'storage.filesystem.accelredirect', /inside \/v2, which the API serves/],
    [{ ui: { path: 'ui' } }, {}, 'ui.path', /must be \/ or a path such as \/ui/],
    [{ ui: { path: '/a b' } }, {}, 'ui.path', /letters, digits/],
    [{ ui: { path: '/v2' } }, {}, 'ui.path', /inside \/v2, which the API serves/],
    [{}, { REGISTRY_UI_PATH: '/v1/browse' }, 'ui.path', /inside \/v1/],
    [{}, { REGISTRY_UI_ENABLED: 'sometimes' }, 'ui.enabled', /true or false/],
    [{}, { REGISTRY_HTTP_ADR: ':1' }, 'REGISTRY_HTTP_ADR', /unknown environment override \(no config key http\.adr\); did you mean REGISTRY_HTTP_ADDR\?$/],
    [{}, { REGISTRY_AUTH_ACCESS_WRITER: 'admin' }, 'REGISTRY_AUTH_ACCESS_WRITER', /did you mean REGISTRY_AUTH_ACCESS_WRITERS\?$/],
    [{}, { REGISTRY_STORAGE_FILESYSTEM_ROOTDIR: '/data' }, 'REGISTRY_STORAGE_FILESYSTEM_ROOTDIR', /did you mean REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY\?$/],
    [{}, { REGISTRY_XYZZY: '1' }, 'REGISTRY_XYZZY', /no config key xyzzy\)$/],
    [{}, { REGISTRY_LOG_LEVEL: 'loud' }, 'log.level', /one of/],
    [{ auth: { none: {}, htpasswd: {} } }, {}, 'auth', /choose htpasswd \(users\) or none \(an open registry\), not both/],
    [{ auth: { none: { users: 'x' } } }, {}, 'auth.none.users', /unknown key/],
  ]
  for (const [doc, env, key, message] of cases) {
    const err = catchError(() => loadConfig({ doc: { storage: { filesystem: {} }, ...doc }, env }))
    t.type(err, ConfigError)
    t.equal((err as ConfigError).key, key, `key for ${JSON.stringify(doc)} ${JSON.stringify(env)}`)
    t.match((err as Error).message, message)
    t.match((err as Error).message, key)
  }
})

t.test('ui: on at / by default; another path, trailing slash dropped; off', async (t) => {
  const doc = { storage: { filesystem: {} } }
  t.same(loadConfig({ doc, env: {} }).ui, { enabled: true, path: '/' })
  t.same(loadConfig({ doc: { ...doc, ui: { path: '/browse/packs/' } }, env: {} }).ui, { enabled: true, path: '/browse/packs' })
  t.same(loadConfig({ doc, env: { REGISTRY_UI_ENABLED: 'false', REGISTRY_UI_PATH: '/ui' } }).ui, { enabled: false, path: '/ui' })
  t.same(loadConfig({ doc: { ...doc, ui: { path: '/v10' } }, env: {} }).ui.path, '/v10', 'only the API paths themselves are refused')
})

t.test('http.tls: certificate files, or Let\'s Encrypt with the keys of Spectro\'s guide', async (t) => {
  const files = loadConfig({ doc: { storage: { filesystem: {} }, http: { tls: { certificate: '/certs/tls.crt', key: '/certs/tls.key', clientcas: '/certs/ca.crt' } } }, env: {} })
  t.same(files.http.tls, { certificates: { kind: 'files', certificate: '/certs/tls.crt', key: '/certs/tls.key' }, clientcas: ['/certs/ca.crt'], minimumtls: 'tls1.2' })

  const dir = tempDir(t)
  const file = join(dir, 'config.yml')
  writeFileSync(
    file,
    `version: 0.1
storage:
  filesystem:
    rootdirectory: /data/.spectro-server
http:
  addr: :443
  tls:
    letsencrypt:
      cachefile: /etc/spectro/letsencrypt.json
      email: ops@example.com
      hosts:
        - Registry.Example.com
`,
  )
  const guide = loadConfig({ file, env: {} })
  t.same(guide.http.tls, {
    certificates: {
      kind: 'letsencrypt',
      cachefile: '/etc/spectro/letsencrypt.json',
      email: 'ops@example.com',
      hosts: ['registry.example.com'],
      directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
      httpAddr: null,
      startTimeoutMs: 300_000,
    },
    clientcas: [],
    minimumtls: 'tls1.2',
  })

  const env = loadConfig({
    doc: { storage: { filesystem: {} } },
    env: {
      REGISTRY_HTTP_TLS_LETSENCRYPT_CACHEFILE: '/data/acme.json',
      REGISTRY_HTTP_TLS_LETSENCRYPT_HOSTS: 'a.example.com, b.example.com',
      REGISTRY_HTTP_TLS_LETSENCRYPT_DIRECTORYURL: 'https://acme-staging-v02.api.letsencrypt.org/directory',
      REGISTRY_HTTP_TLS_LETSENCRYPT_HTTPADDR: ':80',
      REGISTRY_HTTP_TLS_LETSENCRYPT_STARTTIMEOUT: '90s',
    },
  })
  t.match(env.http.tls?.certificates, {
    kind: 'letsencrypt',
    hosts: ['a.example.com', 'b.example.com'],
    directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    httpAddr: { addr: ':80', host: '0.0.0.0', port: 80 },
    startTimeoutMs: 90_000,
  })
})

t.test('missing and malformed files', async (t) => {
  const dir = tempDir(t)
  t.throws(() => loadConfig({ file: join(dir, 'nope.yml'), env: {} }), /cannot read the config file \(ENOENT\)/)
  const bad = join(dir, 'bad.yml')
  writeFileSync(bad, 'http: [unclosed')
  t.throws(() => loadConfig({ file: bad, env: {} }), /not valid YAML/)
  const list = join(dir, 'list.yml')
  writeFileSync(list, '- a\n- b\n')
  t.throws(() => loadConfig({ file: list, env: {} }), /mapping/)
})

t.test('storage: inmemory shorthand and empty sections', async (t) => {
  t.equal(loadConfig({ doc: { storage: 'inmemory' }, env: {} }).storage.kind, 'inmemory')
  t.equal(loadConfig({ doc: { storage: { filesystem: null } }, env: {} }).storage.rootdirectory, './data')
  t.same(loadConfig({ doc: { storage: { filesystem: {} }, auth: 'htpasswd' }, env: {} }).auth?.writers, ['admin'])
})

t.test('one data directory: the htpasswd lives under the storage root unless auth.htpasswd.path says otherwise', async (t) => {
  const htpasswd = (doc: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => loadConfig({ doc, env }).auth?.htpasswdPath
  t.equal(htpasswd({ storage: { filesystem: { rootdirectory: '/srv/packyard' } }, auth: { htpasswd: {} } }), '/srv/packyard/htpasswd')
  t.equal(htpasswd({ storage: { filesystem: {} }, auth: { htpasswd: { path: '' } } }, { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/var/lib/p' }), '/var/lib/p/htpasswd')
  t.equal(htpasswd({ storage: { filesystem: { rootdirectory: '/srv/packyard' } }, auth: { htpasswd: { path: '/auth/htpasswd-basic' } } }), '/auth/htpasswd-basic')
  t.equal(htpasswd({ storage: { filesystem: {} }, auth: { htpasswd: {} } }, { REGISTRY_AUTH_HTPASSWD_PATH: '/auth/h' }), '/auth/h')
  t.equal(htpasswd({ storage: 'inmemory', auth: { htpasswd: {} } }), null, 'in memory: no file at all')
  t.equal(htpasswd({ storage: 'inmemory', auth: { htpasswd: { path: '/auth/h' } } }), '/auth/h', 'in memory with a file named: that file')
})

t.test('REGISTRY_STORAGE=inmemory over the built-in defaults: in memory, no warning about its own key', async (t) => {
  const c = loadConfig({ doc: { storage: { filesystem: {} }, auth: { htpasswd: {} } }, env: { REGISTRY_STORAGE: 'inmemory' } })
  t.equal(c.storage.kind, 'inmemory')
  t.same(c.ignoredKeys, [])
  t.equal(c.auth?.htpasswdPath, null)
  t.same(loadConfig({ doc: { storage: { inmemory: null } }, env: {} }).ignoredKeys, [])
  t.throws(() => loadConfig({ doc: { storage: { inmemory: { size: 1 } } }, env: {} }), { message: /storage\.inmemory\.size: unknown key/ })
})

t.test('parseAddr', async (t) => {
  t.same(parseAddr(':5000'), { host: '0.0.0.0', port: 5000 })
  t.same(parseAddr('127.0.0.1:80'), { host: '127.0.0.1', port: 80 })
  t.same(parseAddr('[::1]:443'), { host: '::1', port: 443 })
  t.throws(() => parseAddr('5000'))
})

t.test('notifications: distribution\'s endpoint keys, ours, REGISTRY_NOTIFICATIONS_* and clear errors', async (t) => {
  const c = loadConfig({
    doc: {
      notifications: {
        events: { includereferences: true },
        retention: { maxage: '48h', maxevents: 500 },
        endpoints: [
          {
            name: 'ci',
            url: 'http://ci.example.com/hook',
            headers: { Authorization: ['Bearer x'] },
            timeout: '500ms',
            threshold: 5,
            backoff: '2s',
            ignoredmediatypes: ['application/octet-stream'],
            ignore: { mediatypes: ['application/vnd.oci.image.config.v1+json'], actions: ['pull'] },
          },
          { name: 'chat', url: 'https://chat.example.com/', disabled: true, format: 'cloudevents' },
        ],
      },
    },
    env: {},
  })
  t.same(c.notifications.retention, { maxAgeMs: 48 * 3600_000, maxEvents: 500 })
  t.equal(c.notifications.includeReferences, true)
  t.same(c.notifications.endpoints[0], {
    name: 'ci',
    url: 'http://ci.example.com/hook',
    headers: { Authorization: ['Bearer x'] },
    timeoutMs: 500,
    threshold: 5,
    backoffMs: 2000,
    ignoredMediaTypes: ['application/octet-stream', 'application/vnd.oci.image.config.v1+json'],
    ignoredActions: ['pull'],
    disabled: false,
    format: 'distribution',
  })
  t.match(c.notifications.endpoints[1], { name: 'chat', disabled: true, format: 'cloudevents', timeoutMs: 1000 })

  const none = loadConfig({ doc: {}, env: {} })
  t.same(none.notifications, { endpoints: [], includeReferences: false, retention: { maxAgeMs: 7 * 24 * 3600_000, maxEvents: 1_000_000 } })

  const env = loadConfig({
    doc: {},
    env: {
      REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: ci, url: "http://ci:8080/e", ignore: {actions: [pull]}}]',
      REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES: 'true',
      REGISTRY_NOTIFICATIONS_RETENTION_MAXAGE: '1h',
    },
  })
  t.match(env.notifications, { endpoints: [{ name: 'ci', url: 'http://ci:8080/e', ignoredActions: ['pull'] }], includeReferences: true, retention: { maxAgeMs: 3600_000 } })

  const bad: Array<[unknown, string, RegExp]> = [
    [{ name: 'ci' }, 'notifications.endpoints[0] (ci).url', /must not be empty/],
    [{ url: 'http://x/' }, 'notifications.endpoints[0].name', /must not be empty/],
    [{ name: 'a b', url: 'http://x/' }, 'notifications.endpoints[0].name', /letters, digits/],
    [{ name: 'ci', url: 'ftp://x/' }, 'notifications.endpoints[0] (ci).url', /http:\/\/ or https:\/\//],
    [{ name: 'ci', url: 'https://user:secret@x/' }, 'notifications.endpoints[0] (ci).url', /send credentials in headers/],
    [{ name: 'ci', url: 'http://x/', timeout: 'soon' }, 'notifications.endpoints[0] (ci).timeout', /duration/],
    [{ name: 'ci', url: 'http://x/', timeout: '0s' }, 'notifications.endpoints[0] (ci).timeout', /longer than 0s/],
    // Past 2^31-1 ms a timer fires at once: every attempt would time out after 1 ms.
    [{ name: 'ci', url: 'http://x/', timeout: '600h' }, 'notifications.endpoints[0] (ci).timeout', /at most 1h/],
    [{ name: 'ci', url: 'http://x/', timeout: '61m' }, 'notifications.endpoints[0] (ci).timeout', /at most 1h/],
    [{ name: 'ci', url: 'http://x/', backoff: 0 }, 'notifications.endpoints[0] (ci).backoff', /longer than 0s/],
    [{ name: 'ci', url: 'http://x/', threshold: 0 }, 'notifications.endpoints[0] (ci).threshold', /between 1 and/],
    [{ name: 'ci', url: 'http://x/', ignore: { actions: ['upload'] } }, 'notifications.endpoints[0] (ci).ignore.actions', /push, pull, delete, mount/],
    [{ name: 'ci', url: 'http://x/', ignore: { verbs: [] } }, 'notifications.endpoints[0] (ci).ignore.verbs', /unknown key/],
    [{ name: 'ci', url: 'http://x/', format: 'xml' }, 'notifications.endpoints[0] (ci).format', /distribution, cloudevents/],
    [{ name: 'ci', url: 'http://x/', retries: 3 }, 'notifications.endpoints[0] (ci).retries', /unknown key/],
    ['http://x/', 'notifications.endpoints[0]', /mapping with name and url/],
  ]
  for (const [entry, key, message] of bad) {
    const err = catchError(() => loadConfig({ doc: { notifications: { endpoints: [entry] } }, env: {} }))
    t.type(err, ConfigError)
    t.equal((err as ConfigError).key, key, JSON.stringify(entry))
    t.match((err as ConfigError).reason, message, JSON.stringify(entry))
  }
  t.equal(loadConfig({ doc: { notifications: { endpoints: [{ name: 'ci', url: 'http://x/', timeout: '1h' }] } }, env: {} }).notifications.endpoints[0]?.timeoutMs, 3600_000, 'a timeout of 1h is allowed')
  for (const maxage of ['0s', 0]) {
    const zero = catchError(() => loadConfig({ doc: { notifications: { retention: { maxage } } }, env: {} }))
    t.type(zero, ConfigError)
    t.equal((zero as ConfigError).key, 'notifications.retention.maxage')
    t.match((zero as ConfigError).reason, /longer than 0s/)
  }
  const twice = catchError(() => loadConfig({ doc: { notifications: { endpoints: [{ name: 'ci', url: 'http://a/' }, { name: 'ci', url: 'http://b/' }] } }, env: {} }))
  t.equal((twice as ConfigError).key, 'notifications.endpoints[1].name')
  const badEnv = catchError(() => loadConfig({ doc: {}, env: { REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: ci' } }))
  t.equal((badEnv as ConfigError).key, 'REGISTRY_NOTIFICATIONS_ENDPOINTS')
  t.match((badEnv as ConfigError).reason, /^not valid YAML flow: /)
  const notList = catchError(() => loadConfig({ doc: { notifications: { endpoints: { name: 'ci' } } }, env: {} }))
  t.equal((notList as ConfigError).key, 'notifications.endpoints')
})

t.test('replica: <host name>:<port> by default, REGISTRY_REPLICA_ID and _ADDRESS override, bad values refused naming the key', async (t) => {
  const host = hostname()
  const defaults = loadConfig({ env: {}, doc: { storage: { inmemory: {} } } })
  t.same(defaults.replica, { id: `${host}:5000`, address: `http://${host}:5000` }, 'the same on every start on this host')
  t.same(loadConfig({ env: { REGISTRY_HTTP_ADDR: '127.0.0.1:5443' }, doc: { storage: { inmemory: {} }, http: { tls: { certificate: 'c.pem', key: 'k.pem' } } } }).replica, {
    id: `${host}:5443`,
    address: `https://${host}:5443`,
  }, "http.addr's port, https with http.tls")
  const env = { REGISTRY_REPLICA_ID: 'registry-2', REGISTRY_REPLICA_ADDRESS: 'http://10.0.0.7:5000/' }
  t.same(loadConfig({ env, doc: { storage: { inmemory: {} }, replica: { id: 'from-file' } } }).replica, { id: 'registry-2', address: 'http://10.0.0.7:5000' }, 'the environment wins over the file')
  t.same(loadConfig({ env: {}, doc: { storage: { inmemory: {} }, replica: { id: 'eu-west.a:5000', address: 'https://[fd00::7]:8443' } } }).replica, { id: 'eu-west.a:5000', address: 'https://[fd00::7]:8443' })

  const refused = (replica: Record<string, string>) => catchError(() => loadConfig({ env: {}, doc: { storage: { inmemory: {} }, replica } })) as ConfigError
  for (const id of ['a b', 'r1<script>', '-r1', 'x'.repeat(129), 'r/1']) {
    const err = refused({ id })
    t.type(err, ConfigError, JSON.stringify(id))
    t.equal(err.key, 'replica.id')
    t.match(err.message, /^config: replica\.id: ".*" is not a replica id: 1 to 128 letters, digits and \. _ : - starting with a letter or digit/)
  }
  for (const address of ['10.0.0.7:5000', 'ftp://host', 'http://user:pw@host:5000', 'http://host:5000/registry', 'http://host?x=1', 'http://', 'http://ho"st']) {
    const err = refused({ address })
    t.type(err, ConfigError, address)
    t.equal(err.key, 'replica.address')
    t.match(err.message, /^config: replica\.address: must be the URL this replica is reached at, http\(s\):\/\/host:port/)
  }
  const fromEnv = catchError(() => loadConfig({ env: { REGISTRY_REPLICA_ID: 'two words' }, doc: { storage: { inmemory: {} } } })) as ConfigError
  t.equal(fromEnv.key, 'replica.id', 'from the environment too')
})
