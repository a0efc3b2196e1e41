// In-memory blob store for `storage: inmemory` (tests, demos). Same contract as the
// filesystem store: verified puts, nothing kept from a failed stream.

import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { RegistryError } from '../errors.js'
import { assertDigest, HashingStream, verifyExpectation } from './digest.js'
import type { BlobInfo, BlobStore, ByteRange, PutExpectation, StagedBlob, StoredBlob } from './types.js'

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, { data: Buffer; modifiedAt: number }>()

  async stat(digest: string): Promise<BlobInfo | null> {
    assertDigest(digest)
    const data = this.blobs.get(digest)?.data
    return data ? { digest, size: data.length } : null
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    assertDigest(digest)
    const data = this.blobs.get(digest)?.data
    if (!data) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest })
    return Readable.from(range ? [data.subarray(range.start, range.end + 1)] : [data], { objectMode: false })
  }

  async stage(source: Readable, expected: PutExpectation = {}): Promise<StagedBlob> {
    if (expected.digest !== undefined) assertDigest(expected.digest)
    const hashing = new HashingStream(expected.maxSize)
    const chunks: Buffer[] = []
    await pipeline(source, hashing, async (stream: AsyncIterable<Buffer>) => {
      for await (const chunk of stream) chunks.push(chunk)
    })
    const info = { digest: hashing.digest(), size: hashing.size }
    verifyExpectation(info, expected)
    let data: Buffer | null = Buffer.concat(chunks)
    return {
      ...info,
      place: async () => {
        if (!data) return
        const existing = this.blobs.get(info.digest)
        if (existing?.data.length === info.size) existing.modifiedAt = Date.now()
        else this.blobs.set(info.digest, { data, modifiedAt: Date.now() })
      },
      discard: async () => {
        data = null
      },
    }
  }


  async delete(digest: string): Promise<boolean> {
    assertDigest(digest)
    return this.blobs.delete(digest)
  }

  async *list(): AsyncIterable<StoredBlob> {
    for (const [digest, blob] of [...this.blobs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      yield { digest, size: blob.data.length, modifiedAt: blob.modifiedAt }
    }
  }

  async check(): Promise<void> {}
}
