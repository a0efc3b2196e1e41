// The single error handler: every error leaves as the envelope
// {"errors":[{"code","message","detail"}]} with the status from errors.ts. Fastify's own
// errors (schema validation, body limits, bad JSON) are translated here, not in routes.
// A 5xx never carries internals: the client gets the request id, the log gets the stack.
// The pack browser shows the same described error as an HTML page (describeError).

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type ErrorCode, type ErrorDetail, isRegistryError, isStorageFull, storageFull } from '../errors.js'

export interface ErrorEnvelope {
  errors: Array<{ code: string; message: string; detail?: ErrorDetail }>
}

export function envelope(code: ErrorCode, message: string, detail?: ErrorDetail): ErrorEnvelope {
  return { errors: [detail === undefined ? { code, message } : { code, message, detail }] }
}

export const errorEnvelopeSchema = {
  $id: 'ErrorEnvelope',
  type: 'object',
  properties: {
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          detail: { type: 'object', additionalProperties: true },
        },
        required: ['code', 'message'],
      },
    },
  },
  required: ['errors'],
} as const

/** Add to every route's `response` so error bodies are declared and serialized too. */
export const errorResponses = {
  '4xx': { $ref: 'ErrorEnvelope#' },
  '5xx': { $ref: 'ErrorEnvelope#' },
} as const

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
}

function statusToCode(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED'
  if (status === 403) return 'DENIED'
  if (status === 404) return 'NOT_FOUND'
  if (status === 405) return 'METHOD_NOT_ALLOWED'
  if (status === 413) return 'PAYLOAD_TOO_LARGE'
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE'
  if (status === 416) return 'RANGE_INVALID'
  if (status === 429) return 'TOO_MANY_REQUESTS'
  return 'BAD_REQUEST'
}

/** What an error means for the client: the status, code and message it gets, and extra headers. */
export interface DescribedError {
  status: number
  code: ErrorCode
  message: string
  detail: ErrorDetail | undefined
  headers: Record<string, string>
}

/**
 * The one mapping from anything thrown to what the client is told, logging what it must. The
 * JSON handler below sends it as the envelope; the pack browser renders the same as a page.
 */
export function describeError(err: FastifyError, request: FastifyRequest): DescribedError {
  if (isStorageFull(err)) {
    request.log.warn({ err: { code: err.code, message: err.message } }, 'storage full: write refused')
    const full = storageFull()
    return { status: full.status, code: full.code, message: full.message, detail: undefined, headers: {} }
  }
  if (isRegistryError(err)) {
    if (err.status >= 500) request.log.error({ err }, 'request failed')
    return { status: err.status, code: err.code, message: err.message, detail: err.detail, headers: err.headers }
  }
  if (err.validation) {
    const where = err.validationContext ?? 'request'
    return { status: 400, code: 'BAD_REQUEST', message: `invalid ${where}: ${err.message}`, detail: undefined, headers: {} }
  }
  const status = err.statusCode ?? 500
  if (status < 500) {
    const code = (err.code && FASTIFY_CODES[err.code]) || statusToCode(status)
    return { status: status === 406 ? 415 : status, code, message: err.message, detail: undefined, headers: {} }
  }
  request.log.error({ err }, 'request failed')
  return { status: 500, code: 'INTERNAL', message: `internal server error (request ${request.id})`, detail: undefined, headers: {} }
}

export function installErrorHandling(app: FastifyInstance): void {
  app.addSchema(errorEnvelopeSchema)

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const described = describeError(err, request)
    for (const [name, value] of Object.entries(described.headers)) reply.header(name, value)
    return reply.code(described.status).send(envelope(described.code, described.message, described.detail))
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(envelope('NOT_FOUND', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`))
  })
}
