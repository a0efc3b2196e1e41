// The /v1 push of the Packyard-only scenario, as `packyard pack push` sends it: one multipart
// form with the file part "archive", streamed with a known length, after the text fields
// (force, message) when there are any. (Its listing is paged like the OCI ones and goes through
// http.ts.)

import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { type Answer, type Endpoint, send } from './http.js'

const BOUNDARY = '----packyard-bench-boundary'

export interface PushOptions {
  /** text fields sent before the archive: force, message, skipDigestCheck */
  fields?: Record<string, string>
  /** the statuses that count as an answer (default: 201, the push created its tag) */
  expect?: readonly number[]
}

/** Pushes a pack archive from a file or from memory; the answer must have one of the expected statuses. */
export async function pushPackV1(ep: Endpoint, archive: { path: string; size: number } | Buffer, options: PushOptions = {}): Promise<Answer> {
  const fields = Object.entries(options.fields ?? {}).map(
    ([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  )
  const head = Buffer.from(
    `${fields.join('')}--${BOUNDARY}\r\nContent-Disposition: form-data; name="archive"; filename="pack.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n`,
  )
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
  const size = Buffer.isBuffer(archive) ? archive.length : archive.size
  const body = Buffer.isBuffer(archive)
    ? Buffer.concat([head, archive, tail])
    : Readable.from(
        (async function* () {
          yield head
          yield* createReadStream(archive.path)
          yield tail
        })(),
      )
  return send(ep, {
    method: 'POST',
    url: '/v1/_packs',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': head.length + size + tail.length },
    body,
    expect: options.expect ?? [201],
  })
}
