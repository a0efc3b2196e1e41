// The S3 blob store and upload staging against a real S3 API (s3rver on a loopback port): both
// conformance suites, then what is S3's own: the key layout, multipart uploads that outlive the
// process, aborts, the 5 GiB copy limit, pre-signed URLs, the start-up check of the bucket.

import t from 'tap'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { openStorage } from '../../src/store/index.js'
import { S3BlobStore } from '../../src/store/s3.js'
import { S3UploadStaging } from '../../src/store/s3-uploads.js'
import type { BlobStore } from '../../src/store/types.js'
import { tempDir } from '../helpers.js'
import { s3Settings, startFaultProxy, startS3Server } from '../s3-helpers.js'
import { digestOf, readAll, storeConformance } from './conformance.js'
import { commitPlaced, stagingConformance } from './uploads-conformance.js'
import { putBlob } from '../../src/store/types.js'

const MiB = 1024 * 1024

t.test('S3', async (t) => {
  const s3 = await startS3Server(t)

  /** Every key under the store's prefix but the blobs: what a put may have left behind. */
  async function leftovers(store: S3BlobStore): Promise<string[]> {
    const keys: string[] = []
    for await (const object of store.listKeys(store.uploadKey(''))) keys.push(object.key)
    return keys
  }

  /**
   * Through the fault proxy, two attempts keep the injected failures quick to see. Straight to
   * s3rver, the store's own retries, as in production: s3rver answers 500 now and then when
   * requests on one key overlap (its files trip over each other; seen more often under Node 24),
   * and the retry absorbs that as it absorbs S3's own occasional 500s.
   */
  async function fixture(_t: unknown, options: { endpoint?: string; warn?: (m: string) => void } = {}) {
    const store = new S3BlobStore(s3Settings(options.endpoint ?? s3.endpoint), { ...(options.endpoint ? { maxAttempts: 2 } : {}), ...(options.warn ? { warn: options.warn } : {}) })
    // Another replica on the same bucket: a client, a store and a staging of its own.
    return { store, staging: new S3UploadStaging(store), replica: () => new S3UploadStaging(new S3BlobStore(store.settings, { ...(options.endpoint ? { maxAttempts: 2 } : {}) })) }
  }

  t.test('blob store conformance', async (t) => {
    let current: S3BlobStore | null = null
    storeConformance(
      t,
      async (t) => {
        current = (await fixture(t)).store
        return current
      },
      {
        leftovers: async () => leftovers(current as S3BlobStore),
        truncate: async (store: BlobStore, digest: string, size: number) => {
          const s = store as S3BlobStore
          const data = await readAll(await s.open(digest, { start: 0, end: size - 1 }))
          await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: s.blobKey(digest), Body: data }))
          // On a busy machine a HEAD to s3rver (which keeps objects as files) right after this PUT
          // once answered 0 bytes: wait, bounded, until the damaged object is what it serves.
          for (let i = 0; i < 50 && (await s.stat(digest))?.size !== size; i++) await new Promise((r) => setTimeout(r, 20))
        },
      },
    )
  })

  t.test('upload staging conformance', async (t) => {
    stagingConformance(t, fixture)
  })

  t.test('blobs are at <rootdirectory>/blobs/sha256/<2 hex>/<64 hex>', async (t) => {
    const { store } = await fixture(t)
    const { digest } = await putBlob(store, Readable.from([Buffer.from('layout')]))
    const hex = digest.slice(7)
    const listed = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: store.settings.rootdirectory }))
    t.same(listed.Contents?.map((c) => c.Key), [`${store.settings.rootdirectory}/blobs/sha256/${hex.slice(0, 2)}/${hex}`])
  })

  t.test('a large put goes up in parts and reads back whole, ranges too', async (t) => {
    const { store } = await fixture(t)
    const data = Buffer.alloc(13 * MiB)
    for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i)
    const info = await putBlob(store, Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]))
    t.same(info, { digest: digestOf(data), size: data.length })
    t.ok((await readAll(await store.open(info.digest))).equals(data))
    t.ok((await readAll(await store.open(info.digest, { start: 6 * MiB - 3, end: 11 * MiB }))).equals(data.subarray(6 * MiB - 3, 11 * MiB + 1)))
    t.same(await leftovers(store), [])
  })

  t.test('a chunked upload spans parts and survives a restart of the process', async (t) => {
    const { store, staging } = await fixture(t)
    const id = '3f1d2c3b-4a59-4876-9504-a3b2c1d0e9f8'
    const data = Buffer.alloc(12 * MiB + 123)
    for (let i = 0; i + 4 <= data.length; i += 4) data.writeUInt32BE(i * 7, i)
    await staging.create(id)
    let offset = 0
    for (const cut of [3 * MiB, 9 * MiB + 5]) {
      offset = await staging.append(id, Readable.from([data.subarray(offset, cut)]), { offset })
    }
    t.equal(offset, 9 * MiB + 5)
    const keys = await leftovers(store)
    t.ok(keys.some((key) => key.endsWith(`${id}.json`)), 'the state is in the bucket')
    t.ok(keys.some((key) => key.endsWith('.tail')), 'the bytes after the last full part wait in the bucket')
    // A new process (or another replica): no running hash, state and tail from the bucket.
    const restarted = new S3UploadStaging(store)
    t.equal(await restarted.size(id), offset)
    t.equal(await restarted.append(id, Readable.from([data.subarray(offset)]), { offset }), data.length)
    t.same(await commitPlaced(restarted, id, { digest: digestOf(data), size: data.length }), { digest: digestOf(data), size: data.length })
    t.ok((await readAll(await store.open(digestOf(data)))).equals(data))
    t.same(await leftovers(store), [], 'nothing left in the bucket')
  })

  t.test('the common ORAS path (a session, then one PUT with the whole blob) costs seven S3 requests, on two replicas too', async (t) => {
    const proxy = await startFaultProxy(t, s3.endpoint)
    const { store, staging } = await fixture(t, { endpoint: proxy.endpoint })
    const id = '2e0c1b2a-3948-4765-8493-a2b1c0d9e8f7'
    const data = Buffer.from('the whole blob in the closing PUT')
    await staging.create(id)
    // The PUT on another replica, as a round-robin balancer sends it: it hashes from the first
    // byte, so nothing is read back.
    const other = new S3UploadStaging(store)
    await commitPlaced(other, id, { digest: digestOf(data) }, { source: Readable.from([data]), chunk: {} })
    const hex = digestOf(data).slice('sha256:'.length)
    // Method and last key segment: the state, the upload's object, the blob.
    const seen = proxy.requests.map((r) => {
      const [method, url] = r.split(' ') as [string, string]
      return `${method} ${decodeURIComponent((url.split('?')[0] as string).split('/').pop() as string).replace(hex, '<blob>')}`
    })
    t.same(seen, [`PUT ${id}.json`, `GET ${id}.json`, `PUT ${id}`, 'HEAD <blob>', 'PUT <blob>', `DELETE ${id}`, `DELETE ${id}.json`], 'no tail or state written only to be discarded')
  })

  t.test('cancelling an upload aborts its multipart upload', async (t) => {
    const proxy = await startFaultProxy(t, s3.endpoint)
    const warnings: string[] = []
    const { store, staging } = await fixture(t, { endpoint: proxy.endpoint, warn: (m) => warnings.push(m) })
    const id = '4a2e3d4c-5b6a-4987-8a15-b4c3d2e1f0a9'
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.alloc(6 * MiB, 1)]))
    t.ok(proxy.requests.some((r) => r.startsWith('PUT ') && r.includes('partNumber=1')), 'the full part went to S3')
    t.equal(await staging.cancel(id), true)
    const abort = proxy.requests.find((r) => r.startsWith('DELETE ') && r.includes('uploadId='))
    t.ok(abort, 'AbortMultipartUpload was sent')
    // s3rver has no AbortMultipartUpload (it answers 405): the operator is told where the parts are.
    t.match(warnings, [/does not implement AbortMultipartUpload.*lifecycle rule/])
    t.same(await leftovers(store), [], 'the state and the tail are gone')
    await t.rejects(staging.size(id), { code: 'BLOB_UPLOAD_UNKNOWN' })
  })

  t.test('list shows temp objects an interrupted put left in the bucket; cancel removes them', async (t) => {
    const { store, staging } = await fixture(t)
    const name = 'put-0f0e0d0c-0b0a-4009-8008-070605040302'
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: store.uploadKey(name), Body: 'interrupted' }))
    const entries = []
    for await (const entry of staging.list()) entries.push(entry)
    t.match(entries, [{ id: name, size: 11, modifiedAt: Number }])
    t.equal(await staging.cancel(name), true)
    t.same(await leftovers(store), [])
  })

  t.test('an upload whose state in the bucket is damaged is refused with 400, listed, and cancelled', async (t) => {
    const { store, staging } = await fixture(t)
    const id = '6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d'
    await staging.create(id)
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${store.uploadKey(id)}.json`, Body: '{"parts": truncated' }))
    await t.rejects(staging.size(id), { code: 'BLOB_UPLOAD_INVALID', status: 400, message: /is damaged in storage .*start again/ })
    await t.rejects(staging.append(id, Readable.from([Buffer.from('more')])), { code: 'BLOB_UPLOAD_INVALID' })
    const entries = []
    for await (const entry of staging.list()) entries.push(entry)
    t.match(entries, [{ id, size: 0 }], 'listed for a purge')
    t.equal(await staging.cancel(id), true)
    t.same(await leftovers(store), [])
  })

  t.test('blobs larger than one CopyObject can copy are refused with 413', async (t) => {
    const store = new S3BlobStore(s3Settings(s3.endpoint), { maxBlobBytes: 1000 })
    await t.rejects(putBlob(store, Readable.from([Buffer.alloc(600), Buffer.alloc(600)])), { code: 'PAYLOAD_TOO_LARGE', message: /S3 storage keeps blobs of at most 1000 bytes/ })
    const staging = new S3UploadStaging(store)
    const id = '5b3f4e5d-6c7b-4a98-9b26-c5d4e3f2a1b0'
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.alloc(900)]))
    await t.rejects(staging.append(id, Readable.from([Buffer.alloc(200)])), { code: 'PAYLOAD_TOO_LARGE' })
    t.equal(await staging.size(id), 900, 'the refused chunk changed nothing')
    t.same(await leftovers(store), [store.uploadKey(`${id}.1.tail`), store.uploadKey(`${id}.json`)], 'only the upload: its tail and its state')
    await staging.cancel(id)
    t.same(await leftovers(store), [])
  })

  t.test('a pre-signed URL downloads the blob straight from the bucket, with the headers asked for', async (t) => {
    const { store } = await fixture(t)
    const { digest } = await putBlob(store, Readable.from([Buffer.from('straight from S3')]))
    const url = await store.redirectUrl(digest, { contentType: 'image/png', contentDisposition: null })
    t.match(url, /X-Amz-Signature=/)
    const answer = await fetch(url, { headers: { range: 'bytes=9-' } })
    t.equal(answer.status, 206)
    t.equal(await answer.text(), 'from S3')
    t.equal(answer.headers.get('content-type'), 'image/png', "a logo's ?type= survives the redirect")
    const attachment = await fetch(await store.redirectUrl(digest, { contentType: 'application/octet-stream', contentDisposition: 'attachment' }))
    t.equal(attachment.headers.get('content-disposition'), 'attachment')
    t.equal(await store.storedDigest(digest), null, 's3rver records no SHA-256 checksum')
  })

  t.test('a read cut mid-body resumes where it stopped', async (t) => {
    const proxy = await startFaultProxy(t, s3.endpoint)
    const { store } = await fixture(t, { endpoint: proxy.endpoint })
    const data = Buffer.alloc(8 * MiB)
    for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i)
    const { digest } = await putBlob(store, Readable.from([data]))
    const chunks: Buffer[] = []
    for await (const chunk of await store.open(digest)) {
      // The connection carrying the body is cut after its first chunk.
      if (chunks.length === 0) proxy.server.closeAllConnections()
      chunks.push(chunk as Buffer)
    }
    t.ok(Buffer.concat(chunks).equals(data), 'every byte arrived, in order')
    t.match(proxy.requests.filter((r) => r.startsWith('GET ')), [/.*/, /.*/], 'the rest was fetched again (with a Range)')
  })

  t.test('S3 failures that outlast the retries are 503 naming the backend', async (t) => {
    const proxy = await startFaultProxy(t, s3.endpoint)
    const { store, staging } = await fixture(t, { endpoint: proxy.endpoint })
    proxy.rule = () => 'slowdown'
    await t.rejects(putBlob(store, Readable.from([Buffer.from('throttled')])), { code: 'UNAVAILABLE', status: 503, message: /storage backend S3 \(bucket "packyard" at http:\/\/127\.0\.0\.1:\d+\) failed to store a blob: SlowDown \(HTTP 503\) after 2 attempts/ })
    proxy.rule = () => 'reset'
    await t.rejects(store.stat(digestOf('x')), { code: 'UNAVAILABLE' })
    proxy.rule = () => 'pass'
    const id = '6c4a5f6e-7d8c-4ba9-8c37-d6e5f4a3b2c1'
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('a small blob')]))
    proxy.rule = (req) => (req.method === 'PUT' ? 'internal' : 'pass')
    await t.rejects(commitPlaced(staging, id, { digest: digestOf('a small blob') }), { code: 'UNAVAILABLE', message: /InternalError/ })
    proxy.rule = () => 'pass'
    t.same(await commitPlaced(staging, id, { digest: digestOf('a small blob') }), { digest: digestOf('a small blob'), size: 12 }, 'the same commit succeeds once S3 is back')
  })

  t.test('openStorage checks the bucket and names the bucket, the endpoint and the S3 error', async (t) => {
    const dir = tempDir(t)
    const settings = (overrides: Parameters<typeof s3Settings>[1]) => ({ kind: 's3' as const, rootdirectory: dir, databasePath: join(dir, 'registry.db'), s3: s3Settings(s3.endpoint, overrides) })
    await t.rejects(openStorage(settings({ bucket: 'no-such-bucket' })), { message: new RegExp(`cannot use bucket "no-such-bucket" at ${s3.endpoint.replace(/\./g, '\\.')}: NotFound \\(HTTP 404\\) \\(the bucket does not exist\\)`) })
    await t.rejects(openStorage(settings({ credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } })), { message: /cannot use bucket "packyard" at http:\/\/127\.0\.0\.1:\d+: Forbidden \(HTTP 403\)/ })
    const storage = await openStorage(settings({}))
    t.equal(storage.databaseFile, join(dir, 'registry.db'))
    t.equal(storage.initialAdminPasswordFile, join(dir, 'initial-admin-password'))
    await t.resolves(storage.store.check())
    const { digest } = await putBlob(storage.store, Readable.from([Buffer.from('opened')]))
    t.equal((await readAll(await storage.store.open(digest))).toString(), 'opened')
    const got = await (storage.store as S3BlobStore).client.send(new GetObjectCommand({ Bucket: 'packyard', Key: (storage.store as S3BlobStore).blobKey(digest) }))
    t.equal(got.ContentType, 'application/octet-stream')
  })
})
