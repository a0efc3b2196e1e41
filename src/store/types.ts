// The blob store contract: content-addressed bytes and nothing else. Storage knows nothing of
// packs, manifests or HTTP; every implementation passes test/store/conformance.ts.

import type { Readable } from 'node:stream'

export interface BlobInfo {
  digest: string
  size: number
}

/** A blob as listed: with when it was last written (or reused), for garbage collection's grace period. */
export interface StoredBlob extends BlobInfo {
  modifiedAt: number
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

/**
 * Verified bytes waiting to become visible at their address. Writing a blob is two steps so
 * that the metadata can protect it from garbage collection (a lease) between the moment its
 * digest is known and the moment it is visible.
 */
export interface StagedBlob extends BlobInfo {
  /**
   * Makes the bytes visible at their address. A blob already there with the right size is
   * kept (its bytes were verified when it was written); one with the wrong size (damage) is
   * replaced by these verified bytes.
   */
  place(): Promise<void>
  /** Removes whatever is left of the staged bytes; safe after place() and twice. */
  discard(): Promise<void>
}

export interface BlobStore {
  stat(digest: string): Promise<BlobInfo | null>
  /** A stream of the blob (or the range); throws BLOB_UNKNOWN when absent. */
  open(digest: string, range?: ByteRange): Promise<Readable>
  /**
   * Receives what the stream delivers, hashing it, and verifies the expected digest and size.
   * Nothing is visible until place(); nothing is left behind when the stream or verification
   * fails (or after discard()).
   */
  stage(source: Readable, expected?: PutExpectation): Promise<StagedBlob>
  /** Removes the blob; false when it was not there. */
  delete(digest: string): Promise<boolean>
  /** Every stored blob, for garbage collection and fsck. */
  list(): AsyncIterable<StoredBlob>
  /** Throws when the storage cannot be used (for /health). */
  check(): Promise<void>
  /**
   * A short-lived URL from which clients can download the blob straight from the storage
   * (object storage), answered with `headers`; absent on backends that have none.
   */
  redirectUrl?(digest: string, headers: DownloadHeaders): Promise<string>
  /**
   * The sha256 digest the storage itself computed and verified when the bytes were written
   * (S3's stored SHA-256 checksum), or null when it has none for this blob; absent on
   * backends that never record one. fsck compares it instead of reading the bytes back.
   */
  storedDigest?(digest: string): Promise<string | null>
}

/** stage() then place(): a whole write, for callers that need no lease (tests, tools). */
export async function putBlob(store: Pick<BlobStore, 'stage'>, source: Readable, expected?: PutExpectation): Promise<BlobInfo> {
  const staged = await store.stage(source, expected)
  try {
    await staged.place()
  } finally {
    await staged.discard()
  }
  return { digest: staged.digest, size: staged.size }
}

/** What a download is answered with besides the bytes, when the storage answers it itself. */
export interface DownloadHeaders {
  contentType: string
  contentDisposition: string | null
}
