// The one way request bodies are read: as a stream by the upload routes, or parsed as JSON.
// Whatever consumes one (the blob store, the upload staging, the multipart parser, the manifest
// reader, the JSON parser) sees a typed error instead of a stream that never ends: 408 REQUEST_TIMEOUT when the client sends nothing for
// `http.bodyidletimeout` (0: never), 400 BAD_REQUEST when the client closes the connection mid-body.
// Consumers already clean up on a stream error (temp files removed, chunks truncated back), so
// a stalled or aborted upload leaves nothing behind.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { PassThrough, type Readable } from 'node:stream'
import { RegistryError } from '../errors.js'

export function bodyStalled(idleMs: number): RegistryError {
  return new RegistryError('REQUEST_TIMEOUT', `the request body sent nothing for ${Math.round(idleMs / 1000)} s (http.bodyidletimeout); send it again`, {
    idleSeconds: idleMs / 1000,
  }, { connection: 'close' })
}

export function clientGone(): RegistryError {
  return new RegistryError('BAD_REQUEST', 'the client closed the connection before the request body was complete')
}

/**
 * The request body as a stream that fails, rather than hangs, when the client stalls (unless
 * `idleMs` is 0: no timeout, as a Go server's 0 means) or goes away. Read it once; a route that
 * does not read its body does not call this.
 */
export function requestBody(request: FastifyRequest, idleMs: number): Readable {
  const raw = request.raw
  const body = new PassThrough({ highWaterMark: 1 << 20 })
  // Idle means the client sends nothing while we are ready to read; a body paused because its
  // consumer is busy (backpressure) is not the client's fault.
  const timer = idleMs > 0 ? setTimeout(() => (raw.readableFlowing === false ? timer?.refresh() : fail(bodyStalled(idleMs))), idleMs).unref() : null
  const stop = () => {
    if (timer) clearTimeout(timer)
    raw.off('data', arm).off('end', onEnd).off('error', onAbort).off('close', onClose)
  }
  const fail = (err: RegistryError) => {
    stop()
    raw.unpipe(body)
    // Keep discarding what the client still sends, so our answer can reach it.
    raw.resume()
    body.destroy(err)
  }
  // refresh() re-arms the same timer: no allocation per chunk.
  const arm = () => timer?.refresh()
  const onEnd = () => stop()
  const onAbort = () => fail(clientGone())
  const onClose = () => {
    if (!raw.complete) fail(clientGone())
  }
  raw.on('data', arm).on('end', onEnd).on('error', onAbort).on('close', onClose)
  body.on('close', stop)
  // Consumers listen while they read; one that has already given up (and answered, say 413)
  // must not leave a later timeout or abort error unhandled.
  body.on('error', () => undefined)
  raw.pipe(body)
  return body
}

/**
 * Fastify's own JSON body parser, replaced by one that reads through requestBody, so a JSON
 * body that stalls is answered 408 like every other body; the size cap stays limits.bodysize.
 */
export function parseJsonBodies(app: FastifyInstance, idleMs: number, maxBytes: number): void {
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', async (request: FastifyRequest) => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of requestBody(request, idleMs)) {
      size += (chunk as Buffer).length
      if (size > maxBytes) {
        throw new RegistryError('PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBytes} bytes (limits.bodysize)`, { limit: maxBytes })
      }
      chunks.push(chunk as Buffer)
    }
    const text = Buffer.concat(chunks).toString('utf8')
    if (text.trim() === '') return undefined
    try {
      return JSON.parse(text) as unknown
    } catch (err) {
      throw new RegistryError('BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`)
    }
  })
}
