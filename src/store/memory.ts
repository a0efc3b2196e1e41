// In-memory blob store for `storage: inmemory` (tests, demos). Same contract as the
// filesystem store: verified puts, nothing kept from a failed stream.

import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { RegistryError } from '../errors.js'
import { assertDigest, HashingStream, verifyExpectation } from './digest.js'
import type { BlobInfo, BlobStore, ByteRange, PutExpectation } from './types.js'

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Buffer>()

  async stat(digest: string): Promise<BlobInfo | null> {
    assertDigest(digest)
    const data = this.blobs.get(digest)
    return data ? { digest, size: data.length } : null
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    assertDigest(digest)
    const data = this.blobs.get(digest)
    if (!data) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest })
    return Readable.from(range ? [data.subarray(range.start, range.end + 1)] : [data], { objectMode: false })
  }

  async put(source: Readable, expected: PutExpectation = {}): Promise<BlobInfo> {
    if (expected.digest !== undefined) assertDigest(expected.digest)
    const hashing = new HashingStream(expected.maxSize)
    const chunks: Buffer[] = []
    await pipeline(source, hashing, async (stream: AsyncIterable<Buffer>) => {
      for await (const chunk of stream) chunks.push(chunk)
    })
    const info = { digest: hashing.digest(), size: hashing.size }
    verifyExpectation(info, expected)
    if (!this.blobs.has(info.digest)) this.blobs.set(info.digest, Buffer.concat(chunks))
    return info
  }

  async delete(digest: string): Promise<boolean> {
    assertDigest(digest)
    return this.blobs.delete(digest)
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const digest of [...this.blobs.keys()].sort()) {
      yield { digest, size: (this.blobs.get(digest) as Buffer).length }
    }
  }

  async check(): Promise<void> {}
}
