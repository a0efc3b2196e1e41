// Content digest: identifies what a pack contains regardless of how it was archived (file
// order, timestamps, owners, compression), so a forced push of the same folder is recognised
// as unchanged. The CLI computes it the same way before pushing.
//
// Lines are sorted by the UTF-8 bytes of their path (equivalently, by code point), which is
// what `LC_ALL=C sort` and Go's string order give, so the digest is reproducible outside
// JavaScript; UTF-16 code-unit order would differ for characters beyond U+FFFF.

import { createHash } from 'node:crypto'
import { RegistryError } from '../errors.js'

const SHA256_HEX = /^[0-9a-f]{64}$/

export function contentDigest(files: Iterable<{ path: string; sha256: string }>): string {
  const entries: { path: string; bytes: Buffer; sha256: string }[] = []
  for (const { path, sha256 } of files) {
    // A NUL or newline in a path would let two different file sets produce the same lines.
    if (/[\0\n]/.test(path)) {
      throw new RegistryError('ARCHIVE_INVALID', `file path ${JSON.stringify(path)} contains a NUL or newline character`, {
        path,
      })
    }
    if (!SHA256_HEX.test(sha256)) {
      throw new RegistryError('DIGEST_INVALID', `sha256 of ${JSON.stringify(path)} is not 64 lowercase hex digits`, {
        path,
      })
    }
    entries.push({ path, bytes: Buffer.from(path, 'utf8'), sha256 })
  }
  entries.sort((a, b) => Buffer.compare(a.bytes, b.bytes))
  const hash = createHash('sha256')
  entries.forEach((entry, i) => {
    // Two entries for one path would make the digest depend on input order. Bytes, not
    // strings, are compared: distinct lone surrogates encode to the same bytes.
    const previous = entries[i - 1]
    if (previous !== undefined && Buffer.compare(entry.bytes, previous.bytes) === 0) {
      throw new RegistryError('ARCHIVE_INVALID', `file path ${JSON.stringify(entry.path)} appears more than once`, {
        path: entry.path,
      })
    }
    hash.update(entry.bytes)
    hash.update(`\0${entry.sha256}\n`)
  })
  return `sha256:${hash.digest('hex')}`
}
