// The system's certificate authorities as Go's crypto/x509 reads them on Linux (the file
// SSL_CERT_FILE, else the first bundle of Go's list that exists; then every file in the
// folders of SSL_CERT_DIR, else /etc/ssl/certs and /etc/pki/tls/certs, skipping OpenSSL's hash
// links): what the client (cli/trust.ts, which adds Node's roots and certs.d) and the mirror's
// upstream connections (sync/upstream.ts) trust by default.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

const GO_CERT_FILES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
]
/** ...and the folders whose files are all read. */
const GO_CERT_DIRS = ['/etc/ssl/certs', '/etc/pki/tls/certs']

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g

export function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

export function certificatesIn(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? []
}

/** The files of `dir`, less the links to a name in `dir` itself (a target without a slash), as Go's readUniqueDirectoryEntries. */
function uniqueFiles(dir: string): string[] {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  const files: string[] = []
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isSymbolicLink()) {
      try {
        if (!readlinkSync(path).includes('/')) continue
      } catch {
        continue
      }
    }
    files.push(path)
  }
  return files
}

/** The system store's certificates, found as Go finds them. */
export function systemCertificates(env: NodeJS.ProcessEnv): string[] {
  const certs: string[] = []
  const files = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : GO_CERT_FILES
  for (const file of files) {
    const text = readOptional(file)
    if (text !== undefined) {
      certs.push(...certificatesIn(text))
      break
    }
  }
  const dirs = env.SSL_CERT_DIR ? env.SSL_CERT_DIR.split(':') : GO_CERT_DIRS
  for (const dir of dirs) {
    for (const file of uniqueFiles(dir)) certs.push(...certificatesIn(readOptional(file) ?? ''))
  }
  return certs
}

