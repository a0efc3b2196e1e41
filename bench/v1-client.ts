// The /v1 push of the Packyard-only scenario, as `packyard pack push` sends it: one multipart
// form with the file part "archive", streamed with a known length. (Its listing is paged like
// the OCI ones and goes through http.ts.)

import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { type Endpoint, send } from './http.js'

const BOUNDARY = '----packyard-bench-boundary'

/** Pushes a pack archive from a file or from memory; the push must create its tag (201). */
export async function pushPackV1(ep: Endpoint, archive: { path: string; size: number } | Buffer): Promise<void> {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="archive"; filename="pack.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n`,
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
  await send(ep, {
    method: 'POST',
    url: '/v1/_packs',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': head.length + size + tail.length },
    body,
    expect: [201],
  })
}
