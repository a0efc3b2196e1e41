// Sending content-addressed bytes: ETag and Docker-Content-Digest from the digest, immutable
// caching, If-None-Match → 304, a single `Range: bytes=...` → 206 (416 when unsatisfiable).
// Shared by every route that serves a blob or an archive.

import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { RegistryError } from '../errors.js'
import type { ByteRange } from '../store/types.js'

export const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Parses a Range header against a size; null means "send it all". Throws RANGE_INVALID. */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (header === undefined) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) {
    if (/^bytes=.*,/.test(header)) return null // multiple ranges: answer with the whole blob
    throw new RegistryError('RANGE_INVALID', `invalid Range header ${JSON.stringify(header)}: expected bytes=START-END`, { range: header }, { 'content-range': `bytes */${size}` })
  }
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  }
  if (start > end || start >= size) {
    throw new RegistryError('RANGE_INVALID', `range ${header} is outside the ${size} bytes of this content`, { range: header, size }, { 'content-range': `bytes */${size}` })
  }
  return { start, end }
}

export interface BlobToSend {
  digest: string
  size: number
  contentType: string
  open: (range?: ByteRange) => Promise<Readable>
  fileName?: string
}

export async function sendBlob(request: FastifyRequest, reply: FastifyReply, blob: BlobToSend): Promise<FastifyReply> {
  const etag = `"${blob.digest}"`
  reply.header('docker-content-digest', blob.digest)
  reply.header('etag', etag)
  reply.header('cache-control', IMMUTABLE)
  reply.header('accept-ranges', 'bytes')
  reply.type(blob.contentType)
  if (blob.fileName) reply.header('content-disposition', `attachment; filename="${blob.fileName}"`)
  const inm = request.headers['if-none-match']
  if (inm && inm.split(',').some((v) => v.trim() === etag || v.trim() === '*')) return reply.code(304).send()
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
