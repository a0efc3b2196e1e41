// A whole stream as one buffer, for the small blobs pack writes read back (a pack.json, the
// start of a README).

import type { Readable } from 'node:stream'

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
