// The Let's Encrypt cache file (http.tls.letsencrypt.cachefile): the ACME account key with the
// account's URL at each directory it is registered with, and the certificate being served with
// its private key and the directory it came from, as one JSON document. Written atomically (temp file, fsync, rename) with mode 0600,
// since it holds private keys. A file this code did not write is never overwritten.

import { readFile, stat } from 'node:fs/promises'
import { isMissing, writeFileAtomic } from '../files.js'
import { ConfigError } from '../config/leaf.js'

const FORMAT = 'packyard-acme-cache/1'
const SETTING = 'http.tls.letsencrypt.cachefile'

export interface CachedCertificate {
  directoryUrl: string
  /** PEM chain: leaf first. */
  chain: string
  key: string
}

export interface AcmeCache {
  accountKey: string | null
  /** ACME directory URL → account URL there. */
  accounts: Record<string, string>
  certificate: CachedCertificate | null
}

const EMPTY: AcmeCache = { accountKey: null, accounts: {}, certificate: null }

/** Reads the cache; a missing or empty file is an empty cache. */
export async function readAcmeCache(path: string): Promise<AcmeCache> {
  let text: string
  try {
    if ((await stat(path)).isDirectory()) throw new ConfigError(SETTING, `${path} is a folder; name a file (it is created on the first certificate)`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    if (isMissing(err)) return structuredClone(EMPTY)
    throw new ConfigError(SETTING, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  if (text.trim() === '') return structuredClone(EMPTY)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = null
  }
  const d = doc as { format?: unknown; accountKey?: unknown; accounts?: unknown; certificate?: Partial<CachedCertificate> | null } | null
  if (d === null || typeof d !== 'object' || d.format !== FORMAT) {
    throw new ConfigError(SETTING, `${path} is not a Packyard certificate cache (another program's file?); move it away or name another file`)
  }
  const c = d.certificate
  const certificateOk =
    c && typeof c.directoryUrl === 'string' && typeof c.chain === 'string' && typeof c.key === 'string'
  const accounts = Object.entries(typeof d.accounts === 'object' && d.accounts !== null ? d.accounts : {}).filter(([, url]) => typeof url === 'string')
  return {
    accountKey: typeof d.accountKey === 'string' ? d.accountKey : null,
    accounts: typeof d.accountKey === 'string' ? Object.fromEntries(accounts) : {},
    certificate: certificateOk ? (c as CachedCertificate) : null,
  }
}

export async function writeAcmeCache(path: string, cache: AcmeCache): Promise<void> {
  try {
    await writeFileAtomic(path, `${JSON.stringify({ format: FORMAT, ...cache }, null, 2)}\n`, 0o600)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    // The Docker image runs as uid 1000; a folder mounted from the host often belongs to root.
    const hint = ['EACCES', 'EPERM', 'EROFS'].includes(code) ? `; this process (uid ${process.getuid?.() ?? '?'}) must be able to create files in its folder` : ''
    throw new ConfigError(SETTING, `cannot write ${path} (${code})${hint}`)
  }
}
