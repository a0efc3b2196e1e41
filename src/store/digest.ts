// Digest strings (`sha256:<64 hex>`) and the hashing stream every blob write goes through.

import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { RegistryError } from '../errors.js'

const SHA256_RE = /^sha256:[a-f0-9]{64}$/
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

export function isSha256Digest(digest: string): boolean {
  return SHA256_RE.test(digest)
}

/** Throws DIGEST_INVALID unless `digest` is a well-formed sha256 digest (the one we store by). */
export function assertDigest(digest: string): void {
  if (SHA256_RE.test(digest)) return
  if (ANY_DIGEST_RE.test(digest)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm in ${JSON.stringify(digest)}: only sha256 is supported`, { digest })
  }
  throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex>`, { digest })
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${sha256Hex(data)}`
}

/** Reads a stream to its end: its sha256 digest and its size. */
export async function digestOfStream(source: AsyncIterable<unknown>): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of source) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { digest: `sha256:${hash.digest('hex')}`, size }
}

/** Passes bytes through while hashing and counting them; stops the stream past `maxSize`. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256')
  size = 0

  /** `tooLarge` names the limit when it is the storage's rather than the request's. */
  constructor(
    private readonly maxSize = Number.POSITIVE_INFINITY,
    private readonly tooLarge: () => RegistryError = () => new RegistryError('PAYLOAD_TOO_LARGE', `content is larger than the limit of ${maxSize} bytes`, { limit: maxSize }),
  ) {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length
    if (this.size > this.maxSize) {
      done(this.tooLarge())
      return
    }
    this.hash.update(chunk)
    done(null, chunk)
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`
  }
}

/** Compares what was received with what the client claimed; throws the matching error. */
export function verifyExpectation(actual: { digest: string; size: number }, expected: { digest?: string | undefined; size?: number | undefined }): void {
  if (expected.size !== undefined && expected.size !== actual.size) {
    throw new RegistryError('SIZE_INVALID', `received ${actual.size} bytes but ${expected.size} were declared`, { expected: expected.size, actual: actual.size })
  }
  if (expected.digest !== undefined && expected.digest !== actual.digest) {
    throw new RegistryError('DIGEST_INVALID', `content digest ${actual.digest} does not match the expected ${expected.digest}`, { expected: expected.digest, actual: actual.digest })
  }
}
