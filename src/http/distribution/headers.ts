// The HTTP headers the OCI distribution API reads and writes (Range is shared with /v1, in
// ../blob-response.ts; Link in ../pagination.ts): Content-Range for upload chunks, Accept for manifest negotiation.
// Pure functions; bad values become typed errors with the spec's codes.

import { RegistryError } from '../../errors.js'
import { baseMediaType, MANIFEST_MEDIA_TYPES } from '../../oci/manifests.js'
import type { ByteRange } from '../../store/types.js'

/**
 * An upload chunk's `Content-Range`: `<start>-<end>` as the spec writes it (a `bytes ` or
 * `bytes=` prefix and a `/<total>` suffix are tolerated). Null when the header is absent.
 */
export function parseContentRange(header: string | undefined): ByteRange | null {
  if (header === undefined) return null
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim())
  const range = m ? { start: Number(m[1]), end: Number(m[2]) } : null
  if (!range || range.end < range.start || !Number.isSafeInteger(range.end)) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range ${JSON.stringify(header.slice(0, 100))}: expected <start>-<end>, inclusive byte offsets`)
  }
  return range
}

/**
 * Whether a client's `Accept` lets us send a manifest of `mediaType`. No Accept, a wildcard,
 * or an Accept that names no manifest type at all accepts anything; an Accept that lists
 * manifest types but not this one does not (q=0 excludes a type).
 */
export function acceptsManifest(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined || accept.trim() === '') return true
  const accepted = accept
    .split(',')
    .filter((part) => !/;\s*q\s*=\s*0(?:\.0*)?\s*(?:;|$)/i.test(part))
    .map((part) => baseMediaType(part))
  if (accepted.some((t) => t === '*/*' || t === 'application/*' || t === mediaType)) return true
  return !accepted.some((t) => MANIFEST_MEDIA_TYPES.includes(t))
}
