// The one way routes read a request body as a stream. Whatever consumes it (the blob store, the
// upload staging, the multipart parser, the manifest reader) sees a typed error instead of a
// stream that never ends: 408 REQUEST_TIMEOUT when the client sends nothing for
// `http.bodyidletimeout`, 400 BAD_REQUEST when the client closes the connection mid-body.
// Consumers already clean up on a stream error (temp files removed, chunks truncated back), so
// a stalled or aborted upload leaves nothing behind.

import type { FastifyRequest } from 'fastify'
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
 * The request body as a stream that fails, rather than hangs, when the client stalls or goes
 * away. Read it once; a route that does not read its body does not call this.
 */
export function requestBody(request: FastifyRequest, idleMs: number): Readable {
  const raw = request.raw
  const body = new PassThrough({ highWaterMark: 1 << 20 })
  // Idle means the client sends nothing while we are ready to read; a body paused because its
  // consumer is busy (backpressure) is not the client's fault.
  const timer = setTimeout(() => (raw.readableFlowing === false ? timer.refresh() : fail(bodyStalled(idleMs))), idleMs).unref()
  const stop = () => {
    clearTimeout(timer)
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
  const arm = () => timer.refresh()
  const onEnd = () => stop()
  const onAbort = () => fail(clientGone())
  const onClose = () => {
    if (!raw.complete) fail(clientGone())
  }
  raw.on('data', arm).on('end', onEnd).on('error', onAbort).on('close', onClose)
  body.on('close', stop)
  raw.pipe(body)
  return body
}
