// Reading the `POST /v1/_packs` form: text fields and exactly one file part, streamed to a
// consumer as it arrives (never buffered). Built on @fastify/busboy directly so that every
// way a form can go wrong reaches the consumer as a typed error on its stream: a body that
// ends before the closing boundary, a Content-Type without `boundary=`, a second file, too
// many parts, a client that stalls or goes away (from requestBody). A failing consumer drains
// the rest of the body, so the client still reads the answer.

import { Busboy, type BusboyInstance } from '@fastify/busboy'
import type { FastifyRequest } from 'fastify'
import { PassThrough, type Readable } from 'node:stream'
import { RegistryError } from '../errors.js'
import { requestBody } from './request-body.js'

export interface FormLimits {
  /** Most text fields, and the largest one in bytes. */
  fields: number
  fieldBytes: number
}

export interface FormResult<T> {
  fields: Record<string, string>
  /** What the consumer returned for the file part; null when the form had none. */
  file: T | null
}

function malformed(reason: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `malformed multipart/form-data body: ${reason}`)
}

/**
 * Parses the form the request carries, reading its body through requestBody. `onFile` receives
 * the part named `fileField` with the fields that came before it; its promise decides the
 * result. Resolves once both the form and the consumer are done; rejects with the first error,
 * once the consumer has settled.
 */
export function readForm<T>(
  request: FastifyRequest,
  bodyIdleMs: number,
  fileField: string,
  limits: FormLimits,
  onFile: (file: Readable, fieldsSoFar: Record<string, string>) => Promise<T>,
): Promise<FormResult<T>> {
  const contentType = request.headers['content-type'] ?? ''
  if (!/^multipart\/form-data\b/i.test(contentType)) {
    return Promise.reject(
      new RegistryError('UNSUPPORTED_MEDIA_TYPE', `send multipart/form-data with a file part "${fileField}", not ${JSON.stringify(contentType.split(';')[0])}`),
    )
  }
  if (!/;\s*boundary=/i.test(contentType)) {
    return Promise.reject(malformed('the Content-Type multipart/form-data needs a boundary= parameter'))
  }
  let parser: BusboyInstance
  try {
    parser = new Busboy({ headers: { 'content-type': contentType }, limits: { files: 1, fields: limits.fields, fieldSize: limits.fieldBytes, parts: limits.fields + 1 } })
  } catch (err) {
    return Promise.reject(malformed((err as Error).message))
  }
  const body = requestBody(request, bodyIdleMs)

  return new Promise<FormResult<T>>((resolve, reject) => {
    const fields: Record<string, string> = {}
    let consumer: Promise<T> | null = null
    let part: PassThrough | null = null
    let settled = false

    // The answer waits for the consumer to finish cleaning up (its temp files removed).
    const fail = (err: unknown) => {
      if (settled) return
      settled = true
      part?.destroy(err as Error)
      body.unpipe(parser)
      body.on('error', () => undefined).resume()
      const rejectWithFirst = () => reject(err)
      if (consumer) consumer.then(rejectWithFirst, rejectWithFirst)
      else reject(err)
    }

    parser.on('field', (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
      if (valueTruncated) fail(malformed(`field ${JSON.stringify(name)} is longer than ${limits.fieldBytes} bytes`))
      else fields[name] = value
    })
    parser.on('file', (name: string, stream: Readable) => {
      // A listener from the first moment: the parser emits "terminated early" on the part
      // as soon as the body ends, possibly before anyone reads it.
      stream.on('error', (err: Error) => part?.destroy(malformed(`${err.message} (the body ended before the closing boundary)`)))
      if (name !== fileField || consumer) {
        stream.resume()
        fail(new RegistryError('BAD_REQUEST', `unexpected file part ${JSON.stringify(name)}: send exactly one file part named "${fileField}"`))
        return
      }
      part = new PassThrough({ highWaterMark: 1 << 20 })
      // Its errors reach us through the consumer's promise, or through fail() when the
      // consumer gave up before listening.
      part.on('error', () => undefined)
      stream.pipe(part)
      consumer = onFile(part, { ...fields })
      consumer.catch(fail)
    })
    parser.on('partsLimit', () => fail(malformed(`more than ${limits.fields + 1} parts`)))
    parser.on('filesLimit', () => fail(new RegistryError('BAD_REQUEST', `send exactly one file part named "${fileField}"`)))
    parser.on('fieldsLimit', () => fail(malformed(`more than ${limits.fields} fields`)))
    parser.on('error', (err: Error) => {
      const error = malformed(err.message)
      // The part's consumer must hear it too, or it would wait for bytes that never come.
      part?.destroy(error)
      fail(error)
    })
    parser.on('finish', () => {
      if (settled) return
      Promise.resolve(consumer).then((file) => {
        if (settled) return
        settled = true
        resolve({ fields, file })
      }, fail)
    })
    body.on('error', fail)
    body.pipe(parser)
  })
}
