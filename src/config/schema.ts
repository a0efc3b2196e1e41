// The configuration keys Packyard understands, their types and defaults, as one tree.
// Keys follow the CNCF distribution / spectro-registry config so an existing config.yml and
// `docker run -e REGISTRY_...` lines keep working. Leaves parse both YAML values and the
// strings that come from environment variables.

export type LeafType =
  | { kind: 'string'; nonEmpty?: boolean }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'duration' }
  | { kind: 'size'; max?: number }
  | { kind: 'strings' }
  | { kind: 'stringmap' }
  | { kind: 'headers' }
  | { kind: 'endpoints' }
  | { kind: 'ignored' }
  | { kind: 'unsupported' }
  | { kind: 'syncregistries' }

export interface Leaf {
  leaf: true
  type: LeafType
  default: unknown
  doc: string
}

export interface Section {
  [key: string]: Leaf | Section
}

const leaf = (type: LeafType, def: unknown, doc: string): Leaf => ({ leaf: true, type, default: def, doc })

export const SPECTRO_SECURITY_HEADERS: Record<string, string[]> = {
  'X-Content-Type-Options': ['nosniff'],
  'Strict-Transport-Security': ['max-age=63072000; includeSubdomains; preload'],
  'Content-Security-Policy': ["img-src 'self'; script-src 'self'; style-src 'self'"],
  'X-Frame-Options': ['DENY'],
  'X-XSS-Protection': ['1; mode=block'],
  'Referrer-Policy': ['same-origin'],
}

const MiB = 1024 * 1024

/** The archive limits' defaults: the registry's, and what the client unpacks archives under. */
export const ARCHIVE_LIMIT_DEFAULTS = { archiveSize: 1024 * MiB, unpackedSize: 4096 * MiB, entries: 100_000, fileSize: 16 * MiB, maxCompressionRatio: 200 } as const

/** Let's Encrypt's production ACME directory, the default of http.tls.letsencrypt.directoryurl. */
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory'

export const SCHEMA: Section = {
  version: leaf({ kind: 'string' }, '0.1', 'config format version (accepted for compatibility)'),
  // distribution's other sections: a spectro-registry config that has them must still start
  // (they are listed in the start-up warning as having no effect here).
  loglevel: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; log.level sets the level'),
  middleware: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; storage.redirect covers S3 redirects'),
  reporting: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
  redis: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; blob descriptors are cached by SQLite'),
  health: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; /health always answers'),
  // distribution's pull-through cache: one on-demand upstream (sync.registries) with all content.
  proxy: {
    remoteurl: leaf({ kind: 'string' }, '', 'an upstream OCI registry to pull packs through from (packs at spectro-packs/archive/<name>); empty: none'),
    username: leaf({ kind: 'string' }, '', 'its user name'),
    password: leaf({ kind: 'string' }, '', 'its password'),
    ttl: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; packs fetched through are kept like pushed ones'),
  },
  compatibility: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
  validation: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; packs.validation sets pack validation'),
  policy: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
  log: {
    level: leaf({ kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] }, 'info', 'log level'),
    fields: leaf({ kind: 'stringmap' }, { service: 'registry' }, 'fields added to every log line'),
    formatter: leaf(
      { kind: 'enum', values: ['auto', 'text', 'json', 'logstash'] },
      'auto',
      'text: readable lines; json (or logstash): one JSON object per line; auto: text on a terminal, JSON otherwise',
    ),
    accesslog: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; every request is logged at info'),
    hooks: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
    reportcaller: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
  },
  storage: {
    filesystem: {
      rootdirectory: leaf({ kind: 'string', nonEmpty: true }, './data', 'where blobs, uploads and registry.db live'),
      accelredirect: leaf(
        { kind: 'string' },
        '',
        "an nginx internal location over <rootdirectory>/blobs/, such as /_packyard/blobs/: blob GETs answer X-Accel-Redirect to it and nginx sends the file (needs nginx in front); empty: Packyard sends the bytes",
      ),
    },
    // Keep everything in memory (tests, demos): a driver without settings, selected by its presence.
    inmemory: {},
    delete: {
      enabled: leaf({ kind: 'bool' }, true, 'allow deleting packs, tags, manifests and blobs'),
    },
    maintenance: {
      uploadpurging: {
        enabled: leaf({ kind: 'bool' }, true, 'remove abandoned upload sessions'),
        age: leaf({ kind: 'duration' }, 24 * 3600_000, 'an upload idle for longer than this is removed'),
        emptyage: leaf({ kind: 'duration' }, 10 * 60_000, 'an upload session that has received no byte for this long is removed (0: only after age)'),
        interval: leaf({ kind: 'duration' }, 3600_000, 'how often abandoned uploads are looked for'),
      },
    },
    cache: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility (blob descriptors are cached by SQLite)'),
    // distribution's s3 driver keys, plus Spectro's host and port. Present means S3 storage.
    s3: {
      accesskey: leaf({ kind: 'string' }, '', 'access key id; empty: the AWS SDK default credential chain (environment, shared profile, instance or pod role)'),
      secretkey: leaf({ kind: 'string' }, '', 'secret access key (with accesskey)'),
      sessiontoken: leaf({ kind: 'string' }, '', 'session token of temporary credentials (with accesskey)'),
      region: leaf({ kind: 'string', nonEmpty: true }, 'us-east-1', 'the bucket\'s region'),
      regionendpoint: leaf({ kind: 'string' }, '', 'endpoint URL of an S3-compatible server (MinIO, Ceph RGW, R2...); empty: AWS'),
      host: leaf({ kind: 'string' }, '', "Spectro's spelling of the endpoint: host name, with port and secure"),
      port: leaf({ kind: 'int', min: 0, max: 65535 }, 0, 'port of host (0: 443, or 80 when secure is false)'),
      forcepathstyle: leaf({ kind: 'bool' }, false, 'path-style URLs (always used with regionendpoint or host)'),
      bucket: leaf({ kind: 'string' }, '', 'the bucket (must exist)'),
      rootdirectory: leaf({ kind: 'string' }, '', 'key prefix under which everything is stored'),
      secure: leaf({ kind: 'bool' }, true, 'HTTPS to host (false: HTTP)'),
      skipverify: leaf({ kind: 'bool' }, false, "do not verify the server's TLS certificate"),
      v4auth: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; requests are always signed with Signature Version 4'),
      chunksize: leaf({ kind: 'size' }, 10 * MiB, 'size of the parts of multipart uploads (at least 5MiB)'),
      encrypt: leaf({ kind: 'bool' }, false, 'server-side encryption (AES256, or aws:kms with keyid)'),
      keyid: leaf({ kind: 'string' }, '', 'KMS key for encrypt'),
      storageclass: leaf({ kind: 'enum', values: ['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'NONE'] }, 'STANDARD', 'storage class of blobs (NONE: the bucket default)'),
      objectacl: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; objects get the bucket default ACL'),
      multipartcopythresholdsize: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; blobs are copied with one CopyObject call'),
      multipartcopychunksize: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
      multipartcopymaxconcurrency: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
      loglevel: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
      useragent: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
      usedualstack: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
      accelerate: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
    },
    redirect: {
      disable: leaf({ kind: 'bool' }, true, 'false: blob GETs on S3 storage answer 307 to a short-lived pre-signed URL of the bucket'),
    },
    azure: leaf({ kind: 'unsupported' }, undefined, 'Azure storage is not supported by Packyard; use storage.filesystem or storage.s3'),
    gcs: leaf({ kind: 'unsupported' }, undefined, 'GCS storage is not supported by Packyard; use storage.filesystem or storage.s3'),
  },
  database: {
    path: leaf({ kind: 'string' }, '', 'the metadata database (SQLite); empty: <storage.filesystem.rootdirectory>/registry.db, or ./data/registry.db with storage.s3'),
    url: leaf({ kind: 'string' }, '', 'the metadata on PostgreSQL: postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full (a Unix socket: ?host=/run/postgresql); empty: SQLite at database.path'),
    pool: leaf({ kind: 'int', min: 1, max: 1000 }, 10, 'connections to PostgreSQL one Packyard process may hold'),
    connecttimeout: leaf({ kind: 'duration' }, 10_000, 'how long start-up and each request wait for a PostgreSQL connection'),
    tls: {
      ca: leaf({ kind: 'string' }, '', "PEM CA file the PostgreSQL server's certificate is checked against (sslmode=verify-ca or verify-full); empty: the system CAs"),
      cert: leaf({ kind: 'string' }, '', 'PEM client certificate for PostgreSQL (with key)'),
      key: leaf({ kind: 'string' }, '', 'PEM private key of cert (unencrypted)'),
    },
  },
  http: {
    addr: leaf({ kind: 'string', nonEmpty: true }, ':5000', 'listen address, host:port or :port'),
    headers: leaf({ kind: 'headers' }, SPECTRO_SECURITY_HEADERS, 'headers added to every response'),
    draintimeout: leaf({ kind: 'duration' }, 60_000, 'on shutdown, how long in-flight requests may finish'),
    bodyidletimeout: leaf({ kind: 'duration' }, 60_000, 'a request body that sends nothing for this long is answered 408 and dropped; 0: no timeout'),
    trustedproxies: leaf({ kind: 'strings' }, [], "proxies (addresses or CIDRs) whose X-Forwarded-For names the real client"),
    secret: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
    relativeurls: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; Location headers are always relative'),
    host: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
    prefix: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; routes are always at /v1 and /v2'),
    debug: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; metrics.addr serves /metrics on its own address'),
    http2: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
    h2c: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility'),
    net: leaf({ kind: 'ignored' }, undefined, 'accepted for compatibility; http.addr is TCP'),
    tls: {
      certificate: leaf({ kind: 'string' }, '', 'PEM certificate (chain); enables HTTPS with key'),
      key: leaf({ kind: 'string' }, '', 'PEM private key'),
      clientcas: leaf({ kind: 'strings' }, [], 'CA files for client certificates (optional mutual TLS)'),
      minimumtls: leaf({ kind: 'enum', values: ['tls1.2', 'tls1.3'] }, 'tls1.2', 'lowest TLS version accepted'),
      letsencrypt: {
        cachefile: leaf({ kind: 'string' }, '', "ACME account key, certificate and key (mode 0600); setting it turns Let's Encrypt on"),
        email: leaf({ kind: 'string' }, '', 'contact address of the ACME account'),
        hosts: leaf({ kind: 'strings' }, [], 'names to get the certificate for; handshakes for any other name are refused'),
        directoryurl: leaf({ kind: 'string', nonEmpty: true }, LETS_ENCRYPT_DIRECTORY, 'ACME directory (a staging or private ACME server for tests)'),
        httpaddr: leaf({ kind: 'string' }, '', 'host:port answering HTTP-01 challenges and redirecting to HTTPS (empty: TLS-ALPN-01 only)'),
        starttimeout: leaf({ kind: 'duration' }, 5 * 60_000, 'how long start-up waits for the first certificate'),
      },
    },
  },
  auth: {
    // An open registry, chosen explicitly (`auth: none`, REGISTRY_AUTH=none): a driver without
    // settings, selected by its presence. Without it, users come from htpasswd.
    none: {},
    htpasswd: {
      realm: leaf({ kind: 'string', nonEmpty: true }, 'basic-realm', 'realm of the Basic challenge'),
      path: leaf({ kind: 'string' }, '', 'htpasswd file with bcrypt entries; empty: <storage root>/htpasswd (in memory with storage: inmemory)'),
    },
    token: leaf({ kind: 'unsupported' }, undefined, 'token auth is not supported; use auth.htpasswd'),
    silly: leaf({ kind: 'unsupported' }, undefined, 'silly auth is not supported; use auth.htpasswd'),
    access: {
      writers: leaf({ kind: 'strings' }, ['admin'], 'users who may push, tag and delete'),
    },
  },
  limits: {
    archivesize: leaf({ kind: 'size' }, ARCHIVE_LIMIT_DEFAULTS.archiveSize, 'largest pack archive (compressed) accepted'),
    unpackedsize: leaf({ kind: 'size' }, ARCHIVE_LIMIT_DEFAULTS.unpackedSize, 'largest total unpacked size of a pack archive'),
    entries: leaf({ kind: 'int', min: 1, max: 10_000_000 }, ARCHIVE_LIMIT_DEFAULTS.entries, 'most entries in a pack archive'),
    filesize: leaf({ kind: 'size' }, ARCHIVE_LIMIT_DEFAULTS.fileSize, 'largest pack.json/values.yaml/logo.png/logo.webp/README.md/presets.yaml/schema.yaml'),
    // A manifest is read into memory whole; the largest real ones (image indexes of hundreds of
    // platforms) are under 1 MiB, so 32 MiB is far past any need and still a bounded read.
    manifestsize: leaf({ kind: 'size', max: 32 * MiB }, 4 * MiB, 'largest OCI manifest (at most 32MiB)'),
    bodysize: leaf({ kind: 'size' }, 1 * MiB, 'largest JSON request body'),
    pagesize: leaf({ kind: 'int', min: 1, max: 100_000 }, 1000, 'most entries in one page of a listing'),
    loginfailures: leaf({ kind: 'int', min: 1, max: 1_000_000 }, 10, 'failed logins for one user name from one address before 429'),
    addressloginfailures: leaf({ kind: 'int', min: 1, max: 1_000_000 }, 100, 'failed logins from one address, whatever the user name, before 429'),
    loginlockout: leaf({ kind: 'duration' }, 15 * 60_000, 'how long a login lockout lasts after the last failure'),
    maxcompressionratio: leaf({ kind: 'int', min: 2, max: 1_000_000 }, ARCHIVE_LIMIT_DEFAULTS.maxCompressionRatio, 'largest unpacked:compressed ratio of a pack archive (checked after its first MiB)'),
    uploadsessions: leaf({ kind: 'int', min: 1, max: 1_000_000 }, 100, 'OCI upload sessions one user may hold open at once (429 TOOMANYREQUESTS past it)'),
  },
  packs: {
    validation: leaf(
      { kind: 'enum', values: ['lenient', 'strict'] },
      'lenient',
      'lenient: a pack with warnings (what the stock registry serves anyway) is accepted and its warnings returned; strict: warnings refuse the push',
    ),
  },
  metrics: {
    enabled: leaf({ kind: 'bool' }, true, 'serve Prometheus metrics at /metrics'),
    addr: leaf({ kind: 'string' }, '', 'host:port of a separate listener for /metrics, without credentials (empty: on http.addr, with credentials)'),
  },
  notifications: {
    endpoints: leaf({ kind: 'endpoints' }, [], 'webhook receivers (name, url, headers, timeout, threshold, backoff, ignoredmediatypes, ignore.mediatypes, ignore.actions, disabled, format: distribution or cloudevents); REGISTRY_NOTIFICATIONS_ENDPOINTS takes the list as YAML flow'),
    events: {
      includereferences: leaf({ kind: 'bool' }, false, "add a manifest's references (its layers, config, child manifests) to its events' target"),
    },
    retention: {
      maxage: leaf({ kind: 'duration' }, 7 * 24 * 3600_000, 'an event not delivered within this time is dropped (and counted)'),
      maxevents: leaf({ kind: 'int', min: 1, max: 100_000_000 }, 1_000_000, 'most undelivered events kept per endpoint; the oldest past it are dropped (and counted)'),
    },
  },
  oci: {
    namespace: leaf({ kind: 'string', nonEmpty: true }, 'spectro-packs/archive', 'where packs appear on /v2'),
    listparenttags: leaf({ kind: 'bool' }, false, 'list parent tags (1.x, 1.0.x) in /v2 tags/list'),
  },
  sync: {
    registries: leaf({ kind: 'syncregistries' }, [], 'upstream pack registries to mirror (url, api, basepath, credentials, content rules...; see README "Mirroring packs")'),
  },
  // Several replicas on one database (README "Several replicas"): how this process is named and
  // reached on the registry page, in /metrics and in the event log.
  replica: {
    id: leaf({ kind: 'string' }, '', "this server's name among the replicas sharing the metadata (registry page, /metrics, event log): letters, digits and . _ : - (at most 128); empty: <host name>:<port of http.addr>, the same across restarts on one host"),
    address: leaf({ kind: 'string' }, '', 'where this replica is reachable, as the registry page lists it: http(s)://host:port; empty: http://<host name>:<port of http.addr> (https with http.tls)'),
  },
  ui: {
    enabled: leaf({ kind: 'bool' }, true, 'serve the pack browser (HTML pages, same Basic auth as the API)'),
    path: leaf({ kind: 'string', nonEmpty: true }, '/', 'where the pack browser is served: / or a path such as /ui'),
  },
}

export function isLeaf(node: Leaf | Section): node is Leaf {
  return (node as Leaf).leaf === true
}
