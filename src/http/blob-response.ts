// Sending content-addressed bytes: ETag and Docker-Content-Digest from the digest, immutable
// caching, If-None-Match → 304, a single `Range: bytes=...` → 206 (416 when unsatisfiable), or
// a 307 to the storage's own download URL when the route offers one (S3 with redirects on), or
// an empty 200 whose X-Accel-Redirect has nginx send the file (storage.filesystem.accelredirect);
// and manifests, with the Accept negotiation of the distribution API. Shared by every route
// that serves a blob, an archive or a manifest, on /v1 and /v2.

import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { RegistryError } from '../errors.js'
import { acceptsManifest } from './distribution/headers.js'
import { accelPath } from '../store/layout.js'
import type { ByteRange, DownloadHeaders } from '../store/types.js'

export const IMMUTABLE = 'public, max-age=31536000, immutable'
const SHA256 = 'sha256:'

/**
 * The media types a client may ask a blob to be served as (`?type=`, as Spectro's logo URLs
 * do). Blobs are author-supplied bytes: only images are shown inline; everything a browser
 * would render as a document is an attachment, and nothing is ever served as HTML.
 */
const SERVABLE_TYPES: Record<string, { inline: boolean }> = {
  'image/png': { inline: true },
  'image/webp': { inline: true },
  'image/svg+xml': { inline: true },
  'application/json': { inline: false },
  'application/yaml': { inline: false },
  'text/markdown': { inline: false },
  'text/plain': { inline: false },
  'application/gzip': { inline: false },
  'application/octet-stream': { inline: false },
}

/**
 * Checks a requested `?type=`; 400 naming the allowed ones otherwise. Spectro's docs also spell
 * an image type with a dot (`image.webp`): the same type.
 */
export function servableType(type: string | undefined): string {
  if (type === undefined) return 'application/octet-stream'
  const base = type.toLowerCase().replace(/^image\./, 'image/')
  if (!(base in SERVABLE_TYPES)) {
    throw new RegistryError('BAD_REQUEST', `type=${type} cannot be served; ask for one of ${Object.keys(SERVABLE_TYPES).join(', ')}`, { type })
  }
  return base
}

function unsatisfiable(header: string, size: number): RegistryError {
  return new RegistryError('RANGE_INVALID', `cannot serve range ${JSON.stringify(header.slice(0, 100))} of a ${size}-byte blob`, { size }, { 'content-range': `bytes */${size}` })
}

/**
 * The byte range a `Range` header asks for, or null to send the whole blob. Like Go's
 * http.ServeContent (what distribution serves blobs with), a malformed or unsatisfiable
 * single range is a 416; a multi-range request gets the whole blob, which RFC 9110 allows.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (header === undefined) return null
  const value = header.trim()
  if (/^bytes=.*,/.test(value)) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(value)
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable(header, size)
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) throw unsatisfiable(header, size)
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Number(m[2])
  if (start >= size || end < start) throw unsatisfiable(header, size)
  return { start, end: Math.min(end, size - 1) }
}

export interface BlobToSend {
  digest: string
  size: number
  contentType: string
  open: (range?: ByteRange) => Promise<Readable>
  fileName?: string
  /** Cache-Control; digest-addressed bytes (the default) are immutable. */
  cacheControl?: string
  /**
   * Where a GET may download the bytes straight from the storage instead (307), answered with
   * these headers; null: serve them.
   */
  redirect?: ((headers: DownloadHeaders) => Promise<string>) | null
  /**
   * storage.filesystem.accelredirect: the prefix of nginx's internal location over
   * `<root>/blobs/`, which sends the file of a GET in Packyard's place; null: Packyard sends it.
   */
  accel?: string | null
}

/** A blob store's redirectUrl: a download URL for `digest` answered with `headers`. */
export type BlobRedirect = (digest: string, headers: DownloadHeaders) => Promise<string>

/** Whether the client already has the content with this digest (If-None-Match). */
export function notModified(request: FastifyRequest, digest: string): boolean {
  const header = request.headers['if-none-match']
  return header !== undefined && header.split(',').some((tag) => tag.trim() === `"${digest}"` || tag.trim() === '*')
}

export interface ManifestToSend {
  digest: string
  media_type: string
  size: number
  content: Buffer
}

/**
 * A stored manifest, exactly as pushed. A client whose Accept lists manifest types but not
 * this one gets 404 MANIFEST_UNKNOWN, as from distribution; by digest it is immutable.
 */
export function sendManifest(request: FastifyRequest, reply: FastifyReply, manifest: ManifestToSend, reference: string): FastifyReply {
  if (!acceptsManifest(request.headers.accept, manifest.media_type)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is stored as ${manifest.media_type}, which the request's Accept header does not include`, {
      mediaType: manifest.media_type,
      accept: request.headers.accept,
    })
  }
  reply.header('content-type', manifest.media_type).header('docker-content-digest', manifest.digest).header('etag', `"${manifest.digest}"`)
  if (reference === manifest.digest) reply.header('cache-control', IMMUTABLE)
  if (notModified(request, manifest.digest)) return reply.code(304).send()
  reply.header('content-length', String(manifest.size))
  return request.method === 'HEAD' ? reply.send() : reply.send(manifest.content)
}

export async function sendBlob(request: FastifyRequest, reply: FastifyReply, blob: BlobToSend): Promise<FastifyReply> {
  const etag = `"${blob.digest}"`
  reply.header('docker-content-digest', blob.digest)
  reply.header('etag', etag)
  reply.header('cache-control', blob.cacheControl ?? IMMUTABLE)
  reply.header('accept-ranges', 'bytes')
  reply.type(blob.contentType)
  // Author-supplied bytes never run as a page of this origin, whatever a browser makes of them.
  reply.header('x-content-type-options', 'nosniff')
  reply.header('content-security-policy', "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
  const inline = SERVABLE_TYPES[blob.contentType.split(';')[0]?.trim() ?? '']?.inline === true
  const disposition = blob.fileName ? `attachment; filename="${blob.fileName}"` : inline ? null : 'attachment'
  if (disposition) reply.header('content-disposition', disposition)
  if (notModified(request, blob.digest)) return reply.code(304).send()
  if (blob.redirect && request.method === 'GET') {
    // The client follows it with its Range header; the URL expires, so it is never cached.
    const location = await blob.redirect({ contentType: blob.contentType, contentDisposition: disposition })
    return reply.code(307).header('cache-control', 'no-store').header('location', location).send()
  }
  if (blob.accel && request.method === 'GET' && disposition !== null && blob.digest.startsWith(SHA256)) {
    // nginx answers with the file, Range included, keeping the headers set above that it passes
    // on (Content-Type, -Disposition, Cache-Control) and those its location adds back
    // (Docker-Content-Digest, ETag, X-Content-Type-Options); Accept-Ranges is its own, and would
    // be said twice. Only attachments: an image shown inline keeps its sandboxing CSP whatever
    // nginx's config says, since Packyard sends it.
    reply.removeHeader('accept-ranges')
    return reply.header('x-accel-redirect', accelPath(blob.accel, blob.digest.slice(SHA256.length))).send()
  }
  const range = parseRange(request.headers.range, blob.size)
  if (range) {
    reply.code(206)
    reply.header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`)
    reply.header('content-length', range.end - range.start + 1)
  } else {
    reply.header('content-length', blob.size)
  }
  if (request.method === 'HEAD') return reply.send()
  return reply.send(await blob.open(range ?? undefined))
}
