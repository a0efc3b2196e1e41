// The blob store contract: content-addressed bytes and nothing else. Storage knows nothing of
// packs, manifests or HTTP; every implementation passes test/store/conformance.ts.

import type { Readable } from 'node:stream'

export interface BlobInfo {
  digest: string
  size: number
}

/** Inclusive byte range, as in an HTTP Range header. */
export interface ByteRange {
  start: number
  end: number
}

export interface PutExpectation {
  /** The digest the caller claims; recomputed and compared, never trusted. */
  digest?: string | undefined
  size?: number | undefined
  /** Refuse (PAYLOAD_TOO_LARGE) as soon as more than this many bytes arrive. */
  maxSize?: number | undefined
}

export interface BlobStore {
  stat(digest: string): Promise<BlobInfo | null>
  /** A stream of the blob (or the range); throws BLOB_UNKNOWN when absent. */
  open(digest: string, range?: ByteRange): Promise<Readable>
  /**
   * Stores what the stream delivers under its sha256. Verifies the expected digest and size,
   * never overwrites, and leaves nothing behind when the stream fails or verification fails.
   */
  put(source: Readable, expected?: PutExpectation): Promise<BlobInfo>
  /** Removes the blob; false when it was not there. */
  delete(digest: string): Promise<boolean>
  /** Every stored blob, for garbage collection and fsck. */
  list(): AsyncIterable<BlobInfo>
  /** Throws when the storage cannot be used (for /health). */
  check(): Promise<void>
}
