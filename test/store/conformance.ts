// The one conformance suite every BlobStore implementation must pass.

import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { BlobStore } from '../../src/store/types.js'
import { putBlob } from '../../src/store/types.js'

export function digestOf(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/** A stream that delivers some bytes and then fails, like a client that disconnects. */
export function failingStream(first: Buffer): Readable {
  let sent = false
  return new Readable({
    read() {
      if (!sent) {
        sent = true
        this.push(first)
      } else {
        this.destroy(new Error('client went away'))
      }
    },
  })
}

export interface ConformanceOptions {
  /** What else a failed put may have left behind (temp files), checked to be empty. */
  leftovers?: () => Promise<string[]>
  /** Cuts a stored blob short, as a full disk once did (backends that can be damaged). */
  truncate?: (store: BlobStore, digest: string, size: number) => Promise<void>
}

export function storeConformance(t: Test, makeStore: (t: Test) => Promise<BlobStore>, options: ConformanceOptions = {}): void {
  const noLeftovers = async (t: Test) => {
    if (options.leftovers) t.same(await options.leftovers(), [], 'no temp files left behind')
  }

  t.test('put, stat, open, list, delete', async (t) => {
    const store = await makeStore(t)
    const data = Buffer.from('hello packyard')
    const info = await putBlob(store, Readable.from([data]))
    t.same(info, { digest: digestOf(data), size: data.length })
    t.same(await store.stat(info.digest), info)
    t.same(await readAll(await store.open(info.digest)), data)
    const listed = []
    for await (const b of store.list()) listed.push(b)
    t.match(listed, [{ ...info, modifiedAt: Number }])
    t.ok(Math.abs((listed[0]?.modifiedAt ?? 0) - Date.now()) < 60_000, 'modifiedAt is when it was written')
    t.equal(await store.delete(info.digest), true)
    t.equal(await store.delete(info.digest), false)
    t.equal(await store.stat(info.digest), null)
    await noLeftovers(t)
  })

  t.test('an empty blob', async (t) => {
    const store = await makeStore(t)
    const info = await putBlob(store, Readable.from([]))
    t.same(info, { digest: digestOf(''), size: 0 })
    t.same(await readAll(await store.open(info.digest)), Buffer.alloc(0))
  })

  t.test('expected digest and size are verified', async (t) => {
    const store = await makeStore(t)
    const data = Buffer.from('some bytes')
    const right = digestOf(data)
    t.same(await putBlob(store, Readable.from([data]), { digest: right, size: data.length }), { digest: right, size: data.length })
    const wrong = digestOf('other bytes')
    await t.rejects(putBlob(store, Readable.from([Buffer.from('not those')]), { digest: wrong }), { code: 'DIGEST_INVALID' })
    t.equal(await store.stat(wrong), null, 'nothing stored under the claimed digest')
    t.equal(await store.stat(digestOf('not those')), null, 'nothing stored under the real digest')
    await t.rejects(putBlob(store, Readable.from([Buffer.from('abc')]), { size: 4 }), { code: 'SIZE_INVALID' })
    t.equal(await store.stat(digestOf('abc')), null)
    await t.rejects(putBlob(store, Readable.from([Buffer.from('abc')]), { digest: 'md5:abc' }), { code: 'DIGEST_INVALID' })
    await noLeftovers(t)
  })

  t.test('maxSize stops an oversized stream', async (t) => {
    const store = await makeStore(t)
    await t.rejects(putBlob(store, Readable.from([Buffer.alloc(100), Buffer.alloc(100)]), { maxSize: 150 }), { code: 'PAYLOAD_TOO_LARGE' })
    t.equal(await store.stat(digestOf(Buffer.alloc(200))), null)
    await noLeftovers(t)
  })

  t.test('a stream that errors mid-way stores nothing', async (t) => {
    const store = await makeStore(t)
    await t.rejects(putBlob(store, failingStream(Buffer.from('partial'))), /client went away/)
    const listed = []
    for await (const b of store.list()) listed.push(b)
    t.same(listed, [])
    await noLeftovers(t)
  })

  t.test('concurrent puts of the same content', async (t) => {
    const store = await makeStore(t)
    const data = Buffer.alloc(256 * 1024, 7)
    const results = await Promise.all(Array.from({ length: 8 }, () => putBlob(store, Readable.from([data.subarray(0, 1000), data.subarray(1000)]))))
    for (const r of results) t.same(r, { digest: digestOf(data), size: data.length })
    t.same(await readAll(await store.open(digestOf(data))), data)
    const listed = []
    for await (const b of store.list()) listed.push(b)
    t.equal(listed.length, 1)
    await noLeftovers(t)
  })

  t.test('reading a range', async (t) => {
    const store = await makeStore(t)
    const data = Buffer.from('0123456789abcdef')
    const { digest } = await putBlob(store, Readable.from([data]))
    t.equal((await readAll(await store.open(digest, { start: 3, end: 6 }))).toString(), '3456')
    t.equal((await readAll(await store.open(digest, { start: 15, end: 15 }))).toString(), 'f')
    t.equal((await readAll(await store.open(digest, { start: 0, end: 15 }))).toString(), data.toString())
  })

  t.test('unknown and malformed digests', async (t) => {
    const store = await makeStore(t)
    const missing = digestOf('missing')
    t.equal(await store.stat(missing), null)
    await t.rejects(store.open(missing), { code: 'BLOB_UNKNOWN' })
    await t.rejects(store.stat('sha256:../../etc/passwd'), { code: 'DIGEST_INVALID' })
    await t.rejects(store.open('sha256:ABC'), { code: 'DIGEST_INVALID' })
    await t.rejects(store.delete('nope'), { code: 'DIGEST_INVALID' })
  })

  t.test('stage shows nothing until place; discard leaves nothing', async (t) => {
    const store = await makeStore(t)
    const data = Buffer.from('staged bytes')
    const staged = await store.stage(Readable.from([data]), { digest: digestOf(data) })
    t.same({ digest: staged.digest, size: staged.size }, { digest: digestOf(data), size: data.length })
    t.equal(await store.stat(staged.digest), null, 'not visible before place()')
    await staged.place()
    await staged.place()
    t.same(await readAll(await store.open(staged.digest)), data)
    await staged.discard()
    await staged.discard()
    const other = await store.stage(Readable.from([Buffer.from('never placed')]))
    await other.discard()
    t.equal(await store.stat(other.digest), null)
    await noLeftovers(t)
  })

  if (options.truncate) {
    const truncate = options.truncate
    t.test('a damaged blob of the wrong size is replaced by verified bytes, never trusted', async (t) => {
      const store = await makeStore(t)
      const data = Buffer.alloc(64 * 1024, 9)
      const { digest } = await putBlob(store, Readable.from([data]))
      await truncate(store, digest, 1000)
      t.equal((await store.stat(digest))?.size, 1000)
      t.same(await putBlob(store, Readable.from([data])), { digest, size: data.length })
      t.same(await readAll(await store.open(digest)), data, 'the verified bytes replaced the damaged ones')
      await noLeftovers(t)
    })
  }

  t.test('check passes on a working store', async (t) => {
    const store = await makeStore(t)
    await t.resolves(store.check())
  })
}
