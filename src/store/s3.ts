// Blob store on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2...) through the official
// AWS SDK: objects under `<rootdirectory>/blobs/sha256/<2 hex>/<64 hex>`, as distribution lays
// them out. A write streams into a temp object `<rootdirectory>/uploads/put-<uuid>` (lib-storage:
// multipart in parts of storage.s3.chunksize, each sent with its x-amz-checksum-sha256 so S3
// verifies it too) while Packyard hashes the bytes itself; only when S3 has confirmed the write
// and the digest and size are right does place() copy it server-side to its address. A blob
// already there with the right size is kept (copied onto itself, which refreshes the
// LastModified that garbage collection's grace period reads); nothing half-written is ever at a
// blob's address, because S3 makes an object visible only whole. The temp object is removed
// afterwards whatever happens; one left by a crash is listed by the upload staging, so purging
// and garbage collection remove it.
//
// Every call is retried by the SDK with backoff (503 SlowDown, 500s, connection resets); a read
// cut mid-body resumes from where it stopped. When retries run out the request fails with 503
// UNAVAILABLE naming the backend. One CopyObject copies at most 5 GiB, so that is the largest
// blob S3 storage accepts (413 beyond).

import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { randomUUID } from 'node:crypto'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { PassThrough, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isRegistryError, RegistryError } from '../errors.js'
import { assertDigest, HashingStream, verifyExpectation } from './digest.js'
import { blobKey, type BucketLayout, bucketLayout, putTempName, uploadKey } from './layout.js'
import type { BlobInfo, BlobStore, ByteRange, DownloadHeaders, PutExpectation, StagedBlob, StoredBlob } from './types.js'

/** What the S3 store needs of storage.s3 (built by the config loader). */
export interface S3Settings {
  bucket: string
  region: string
  /** An S3-compatible server's URL; null: AWS. */
  endpoint: string | null
  forcePathStyle: boolean
  /** null: the SDK's default credential chain (environment, shared profile, instance or pod role). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null
  /** Key prefix without leading or trailing slashes; '' for the bucket root. */
  rootdirectory: string
  skipVerify: boolean
  /** Size of multipart upload parts (at least 5 MiB). */
  partSize: number
  encryption: { kind: 'AES256' } | { kind: 'aws:kms'; keyId: string } | null
  storageClass: string | null
}

export interface S3StoreOptions {
  /** Problems worth an operator's attention that do not fail the request. */
  warn?: (message: string) => void
  /** Attempts per S3 call, the first included (the SDK backs off between them). */
  maxAttempts?: number
  /** Largest blob accepted; S3's single-copy limit unless a test lowers it. */
  maxBlobBytes?: number
}

/** One CopyObject call copies at most this much. */
export const S3_MAX_BLOB_BYTES = 5 * 1024 ** 3
/** A pre-signed download URL is valid this long. */
const REDIRECT_SECONDS = 15 * 60
/** A read cut mid-body is resumed this many times before the download fails. */
const READ_RESUMES = 5
const DEFAULT_ATTEMPTS = 6
const CONTENT_TYPE = 'application/octet-stream'

export function createS3Client(settings: S3Settings, maxAttempts = DEFAULT_ATTEMPTS): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    maxAttempts,
    retryMode: 'standard',
    // Checksums are what we send ourselves (x-amz-checksum-sha256 on every part and object);
    // the SDK's default CRC32 trailers need aws-chunked uploads, which many S3-compatible
    // servers do not speak.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: !settings.skipVerify }),
    },
  })
}

/** The S3 error code (NoSuchKey, SlowDown, ECONNRESET...) of a failed call. */
export function s3ErrorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number } }
  const status = e.$metadata?.httpStatusCode
  const name = e.Code ?? e.code ?? e.name ?? 'Error'
  if (status === undefined) return name
  // HEAD answers have no body, so the SDK can only name them after the status.
  const generic = ['NotFound', 'Forbidden', 'Unknown', 'UnknownError', 'Error'].includes(name)
  return `${generic ? (({ 403: 'Forbidden', 404: 'NotFound' }) as Record<number, string>)[status] ?? name : name} (HTTP ${status})`
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404
}

function ignoreEarlyError(): void {}

export class S3BlobStore implements BlobStore {
  /** The copy into place in progress for each digest (see placeObject). */
  private readonly placing = new Map<string, Promise<void>>()
  readonly client: S3Client
  readonly bucket: string
  /** Where its keys are (layout.ts). */
  readonly layout: BucketLayout
  /** For messages: the bucket and where it is. */
  readonly where: string
  readonly maxBlobBytes: number
  readonly warn: (message: string) => void

  constructor(
    readonly settings: S3Settings,
    options: S3StoreOptions = {},
  ) {
    this.client = createS3Client(settings, options.maxAttempts)
    this.bucket = settings.bucket
    this.layout = bucketLayout(settings.rootdirectory)
    this.where = `bucket "${settings.bucket}" at ${settings.endpoint ?? `AWS ${settings.region}`}`
    this.maxBlobBytes = options.maxBlobBytes ?? S3_MAX_BLOB_BYTES
    this.warn = options.warn ?? (() => undefined)
  }

  /** Start-up check: the bucket exists and the credentials may use it. */
  async verifyBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }))
    } catch (err) {
      throw new Error(`storage.s3: cannot use ${this.where}: ${s3ErrorCode(err)}${isNotFound(err) ? ' (the bucket does not exist)' : ''}`, { cause: err })
    }
  }

  blobKey(digest: string): string {
    assertDigest(digest)
    return blobKey(this.layout, digest.slice('sha256:'.length))
  }

  /** Where temp objects and assembled uploads wait: `<rootdirectory>/uploads/<name>`. */
  uploadKey(name: string): string {
    return uploadKey(this.layout, name)
  }

  /** 503 naming the backend, for an S3 call that failed for good (retries included). */
  unavailable(operation: string, err: unknown): RegistryError {
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts
    return new RegistryError(
      'UNAVAILABLE',
      `storage backend S3 (${this.where}) failed to ${operation}: ${s3ErrorCode(err)}${attempts && attempts > 1 ? ` after ${attempts} attempts` : ''}; try again later`,
      { backend: 's3', operation, code: s3ErrorCode(err) },
      { 'retry-after': '10' },
    )
  }

  /** Runs one S3 call; a failure (after the SDK's retries) becomes UNAVAILABLE. */
  async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send()
    } catch (err) {
      if (isRegistryError(err)) throw err
      throw this.unavailable(operation, err)
    }
  }

  /** HEAD of a key: its size and last write, or null when it is not there. */
  async head(key: string, operation: string): Promise<{ size: number; modifiedAt: number; checksum: string | undefined } | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }))
      return { size: head.ContentLength ?? 0, modifiedAt: head.LastModified?.getTime() ?? 0, checksum: head.ChecksumSHA256 }
    } catch (err) {
      if (isNotFound(err)) return null
      throw this.unavailable(operation, err)
    }
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    const head = await this.head(this.blobKey(digest), `look up blob ${digest}`)
    return head && { digest, size: head.size }
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    const stream = await this.openKey(this.blobKey(digest), range, `read blob ${digest}`)
    if (!stream) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest })
    return stream
  }

  /**
   * Streams an object (or a range of it); null when it is not there. A body cut short (a reset
   * connection) is resumed with a ranged GET from the first missing byte.
   */
  async openKey(key: string, range: ByteRange | undefined, operation: string): Promise<Readable | null> {
    const get = (start: number, end: number | null) =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(end === null && start === 0 ? {} : { Range: `bytes=${start}-${end ?? ''}` }) }))
    let first: GetObjectCommandOutput
    try {
      first = await get(range?.start ?? 0, range?.end ?? null)
    } catch (err) {
      if (isNotFound(err)) return null
      throw this.unavailable(operation, err)
    }
    const start = range?.start ?? 0
    const end = range ? range.end : start + (first.ContentLength ?? 0) - 1
    const store = this
    async function* resuming(): AsyncGenerator<Buffer> {
      let at = start
      let body = first.Body as Readable | undefined
      let resumes = 0
      while (at <= end) {
        try {
          if (!body) body = (await get(at, end)).Body as Readable
          for await (const chunk of body) {
            at += (chunk as Buffer).length
            yield chunk as Buffer
          }
          if (at <= end) throw Object.assign(new Error(`the object ended ${end - at + 1} bytes early`), { code: 'ECONNRESET' })
        } catch (err) {
          body?.destroy()
          body = undefined
          if (isRegistryError(err) || ++resumes > READ_RESUMES) throw isRegistryError(err) ? err : store.unavailable(operation, err)
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** resumes))
        }
      }
    }
    return Readable.from(resuming(), { objectMode: false })
  }

  /** Parameters every object we write gets: type, encryption, storage class. */
  objectParams(): Pick<PutObjectCommandInput, 'ContentType' | 'ServerSideEncryption' | 'SSEKMSKeyId' | 'StorageClass'> {
    const { encryption, storageClass } = this.settings
    return {
      ContentType: CONTENT_TYPE,
      ...(encryption ? { ServerSideEncryption: encryption.kind, ...(encryption.kind === 'aws:kms' ? { SSEKMSKeyId: encryption.keyId } : {}) } : {}),
      ...(storageClass ? { StorageClass: storageClass as PutObjectCommandInput['StorageClass'] } : {}),
    }
  }

  tooLarge(): RegistryError {
    return new RegistryError('PAYLOAD_TOO_LARGE', `S3 storage keeps blobs of at most ${this.maxBlobBytes} bytes (5 GiB, the most S3 copies in one request)`, { limit: this.maxBlobBytes })
  }

  async stage(source: Readable, expected: PutExpectation = {}): Promise<StagedBlob> {
    source.on('error', ignoreEarlyError)
    if (expected.digest !== undefined) assertDigest(expected.digest)
    const limit = Math.min(expected.maxSize ?? Number.POSITIVE_INFINITY, this.maxBlobBytes)
    const hashing = limit === expected.maxSize ? new HashingStream(limit) : new HashingStream(limit, () => this.tooLarge())
    const key = this.uploadKey(putTempName(randomUUID()))
    // lib-storage would take HashingStream's byte counter (`size`) for the body's length.
    const body = new PassThrough()
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256', ...this.objectParams() },
      partSize: this.settings.partSize,
      queueSize: 2,
      // We abort ourselves, so that the stream's own error is what the caller hears.
      leavePartsOnError: true,
    })
    const uploading = upload.done()
    try {
      await Promise.all([pipeline(source, hashing, body), uploading])
    } catch (err) {
      source.destroy()
      hashing.destroy()
      body.destroy()
      await uploading.catch(() => undefined)
      if (upload.uploadId) await this.abortMultipart(key, upload.uploadId)
      await this.deleteKey(key).catch(() => undefined)
      const streamFailure = source.errored ?? hashing.errored
      if (isRegistryError(err) || streamFailure) throw isRegistryError(err) ? err : streamFailure
      throw this.unavailable('store a blob', err)
    }
    const info = { digest: hashing.digest(), size: hashing.size }
    try {
      verifyExpectation(info, expected)
    } catch (err) {
      await this.deleteKey(key).catch(() => undefined)
      throw err
    }
    return this.stagedObject(key, info, () => this.deleteKey(key))
  }

  /** Verified bytes in the temp object `key` as a StagedBlob; `discard` removes what is left. */
  stagedObject(key: string, info: BlobInfo, discard: () => Promise<unknown>): StagedBlob {
    return {
      ...info,
      place: () => this.placeObject(key, info),
      discard: async () => {
        await discard()
      },
    }
  }

  /**
   * Copies verified bytes to their address, server-side. A blob already there of the right
   * size is kept and copied onto itself, which refreshes its LastModified (garbage
   * collection's grace period starts again); one of the wrong size, which only damage makes,
   * is replaced. If collection removed it between our look and our copy, we look again.
   */
  private async placeObject(tempKey: string, info: BlobInfo): Promise<void> {
    // One copy onto an address at a time in this process: concurrent pushes of the same bytes
    // wait for each other rather than race copies of one key (which some S3 servers fail).
    const before = this.placing.get(info.digest) ?? Promise.resolve()
    const mine = before.then(() => this.copyIntoPlace(tempKey, info))
    const settled = mine.then(
      () => undefined,
      () => undefined,
    )
    this.placing.set(info.digest, settled)
    try {
      await mine
    } finally {
      if (this.placing.get(info.digest) === settled) this.placing.delete(info.digest)
    }
  }

  private async copyIntoPlace(tempKey: string, info: BlobInfo): Promise<void> {
    const target = this.blobKey(info.digest)
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.head(target, `look up blob ${info.digest}`)
      const source = existing?.size === info.size ? target : tempKey
      try {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: target,
            CopySource: `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
            // Onto itself S3 needs REPLACE; the metadata written is the same.
            MetadataDirective: 'REPLACE',
            ChecksumAlgorithm: 'SHA256',
            ...this.objectParams(),
          }),
        )
        return
      } catch (err) {
        if (isNotFound(err)) continue
        throw this.unavailable(`store blob ${info.digest}`, err)
      }
    }
    throw this.unavailable(`store blob ${info.digest}`, new Error('it kept disappearing while garbage collection ran'))
  }

  /** Removes a key; false when it was not there. */
  async deleteKey(key: string): Promise<boolean> {
    const existed = (await this.head(key, 'look up a temp object')) !== null
    if (existed) await this.call('delete an object', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })))
    return existed
  }

  /**
   * Abandons a multipart upload. A server that does not implement AbortMultipartUpload (s3rver
   * answers 405) keeps the parts until the bucket's lifecycle rule removes them: said in a warning.
   */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      if (isNotFound(err) || (err as { name?: string }).name === 'NoSuchUpload') return
      if (status === 405 || status === 501) {
        this.warn(`${this.where} does not implement AbortMultipartUpload (${s3ErrorCode(err)}): the parts of upload ${uploadId} of ${key} stay until a lifecycle rule (AbortIncompleteMultipartUpload) removes them`)
        return
      }
      throw this.unavailable('abort a multipart upload', err)
    }
  }

  async delete(digest: string): Promise<boolean> {
    return this.deleteKey(this.blobKey(digest))
  }

  /** Objects under `prefix`, page by page (1,000 keys a page), in key order. */
  async *listKeys(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: number }> {
    let token: string | undefined
    do {
      const page = await this.call('list objects', () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) })))
      for (const object of page.Contents ?? []) {
        if (object.Key) yield { key: object.Key, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async *list(): AsyncIterable<StoredBlob> {
    const prefix = this.layout.blobs
    for await (const object of this.listKeys(prefix)) {
      const match = /^([a-f0-9]{2})\/([a-f0-9]{64})$/.exec(object.key.slice(prefix.length))
      if (!match || !(match[2] as string).startsWith(match[1] as string)) continue
      yield { digest: `sha256:${match[2]}`, size: object.size, modifiedAt: object.modifiedAt }
    }
  }

  async check(): Promise<void> {
    await this.call('reach the bucket', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })))
  }

  async redirectUrl(digest: string, headers: DownloadHeaders): Promise<string> {
    // S3 answers the download with these instead of the object's own (the URL signs them).
    const response = { ResponseContentType: headers.contentType, ...(headers.contentDisposition ? { ResponseContentDisposition: headers.contentDisposition } : {}) }
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest), ...response }), { expiresIn: REDIRECT_SECONDS })
  }

  async storedDigest(digest: string): Promise<string | null> {
    const head = await this.head(this.blobKey(digest), `look up blob ${digest}`)
    // A composite checksum (of the parts' checksums, "<base64>-<parts>") says nothing of the whole.
    if (!head?.checksum || head.checksum.includes('-')) return null
    return `sha256:${Buffer.from(head.checksum, 'base64').toString('hex')}`
  }
}
