// The certificate authorities the client trusts for a registry, found where Go programs (the
// spectro CLI, Palette, docker) find them, so that a CA that works for them works here:
//
//   - the system store, as Go's crypto/x509 reads it on Linux: the file SSL_CERT_FILE, else the
//     first bundle of Go's list that exists (/etc/ssl/certs/ca-certificates.crt on Debian and
//     Ubuntu, what update-ca-certificates writes); then every file in the folders of
//     SSL_CERT_DIR (colon-separated), else /etc/ssl/certs and /etc/pki/tls/certs, skipping
//     links to a file of the same folder (OpenSSL's hash links, `1a2b3c4d.0 -> x.pem`) as Go does;
//   - Node's bundled roots and NODE_EXTRA_CA_CERTS, which Node would drop as soon as a CA list
//     is given explicitly;
//   - every `*.crt` in /etc/spectro/certs.d/<server>/ and <home>/certs.d/<server>/, whatever its
//     name, as Docker's certs.d (the spectro CLI's documented file is `ca.crt`).
//
// Unreadable or malformed system files are skipped, as Go skips them; a certs.d file that was
// put there on purpose but holds no certificate is an error naming the file.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { CliError } from './command.js'
import { certificatesIn, readOptional, systemCertificates } from '../system-certificates.js'

export const SYSTEM_CERTS_DIR = '/etc/spectro/certs.d'

/** Go's crypto/x509 root_linux.go: the bundle files, the first one present wins. */
/** The `*.crt` files of `<dir>/<server>/` for each dir, in name order. */
export function certsDFiles(dirs: string[], server: string): string[] {
  const files: string[] = []
  for (const dir of dirs) {
    const folder = join(dir, server)
    let names: string[]
    try {
      names = readdirSync(folder)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      throw new CliError(`cannot read ${folder}: ${(err as Error).message}`)
    }
    for (const name of names.filter((n) => n.endsWith('.crt')).sort()) files.push(join(folder, name))
  }
  return files
}

/**
 * Everything trusted for `server`: the system store, Node's roots, NODE_EXTRA_CA_CERTS and the
 * certs.d files, each certificate once.
 */
export function trustedCertificates(server: string, certDirs: string[], env: NodeJS.ProcessEnv): string[] {
  const all = [...rootCertificates, ...systemCertificates(env)]
  if (env.NODE_EXTRA_CA_CERTS) all.push(...certificatesIn(readOptional(env.NODE_EXTRA_CA_CERTS) ?? ''))
  for (const file of certsDFiles(certDirs, server)) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new CliError(`cannot read the CA certificate ${file}: ${(err as Error).message}`)
    }
    const found = certificatesIn(text)
    if (found.length === 0) throw new CliError(`${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); put the registry's CA certificate there, or remove the file`)
    all.push(...found)
  }
  const seen = new Set<string>()
  return all.filter((pem) => {
    const key = pem.replace(/-----[A-Z ]+-----|\s/g, '')
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
