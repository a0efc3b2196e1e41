// The one conformance suite every UploadStaging implementation must pass, run against the
// blob store it commits into. Stagings that replicas may share (a filesystem root, a bucket)
// also run with a second staging over the same root or bucket, opened as another replica's
// process opens it, taking turns on one upload.

import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { BlobInfo, BlobStore } from '../../src/store/types.js'
import type { CommitExpectation, FinalChunk, UploadStaging } from '../../src/store/uploads.js'
import { digestOf, failingStream, readAll } from './conformance.js'

/** What the staging holds, by id: temp files and objects of interrupted puts included, wherever the storage keeps them. */
export async function stagedIds(staging: UploadStaging): Promise<string[]> {
  const ids: string[] = []
  for await (const entry of staging.list()) ids.push(entry.id)
  return ids
}

export interface StagingFixture {
  staging: UploadStaging
  store: BlobStore
  /** Another replica's staging over the same root or bucket (objects of its own); absent where nothing is shared. */
  replica?: () => UploadStaging
}

/** A commit as the registry does it: verify, place the blob, remove what is left. */
export async function commitPlaced(staging: UploadStaging, id: string, expected: CommitExpectation, last?: FinalChunk): Promise<BlobInfo> {
  const staged = await staging.commit(id, expected, last)
  try {
    await staged.place()
  } finally {
    await staged.discard()
  }
  return { digest: staged.digest, size: staged.size }
}

export function stagingConformance(t: Test, make: (t: Test) => Promise<StagingFixture>): void {
  const id = '0b8f2c4e-8a11-4c1e-9a43-0d7c7c1f5e10'

  t.test('create, append chunks, size, commit', async (t) => {
    const { staging, store } = await make(t)
    await staging.create(id)
    t.equal(await staging.size(id), 0)
    t.equal(await staging.append(id, Readable.from([Buffer.from('hello ')]), { offset: 0 }), 6)
    t.equal(await staging.append(id, Readable.from([Buffer.from('staged '), Buffer.from('world')])), 18, 'without an offset the chunk goes at the end')
    t.equal(await staging.size(id), 18)
    const data = Buffer.from('hello staged world')
    const info = await commitPlaced(staging, id, { digest: digestOf(data) })
    t.same(info, { digest: digestOf(data), size: data.length })
    t.same(await readAll(await store.open(info.digest)), data, 'the blob store holds the bytes')
    t.same(await stagedIds(staging), [], 'a committed upload is gone')
    await t.rejects(staging.size(id), { code: 'BLOB_UPLOAD_UNKNOWN' })
  })

  t.test('an empty upload commits as the empty blob', async (t) => {
    const { staging, store } = await make(t)
    await staging.create(id)
    const info = await commitPlaced(staging, id, { digest: digestOf('') })
    t.same(info, { digest: digestOf(''), size: 0 })
    t.same(await store.stat(digestOf('')), info)
  })

  t.test('a chunk at the wrong offset is refused and changes nothing', async (t) => {
    const { staging } = await make(t)
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('abc')]), { offset: 0 })
    await t.rejects(staging.append(id, Readable.from([Buffer.from('xyz')]), { offset: 5 }), { code: 'RANGE_INVALID', detail: { offset: 5, size: 3 } })
    await t.rejects(staging.append(id, Readable.from([Buffer.from('xyz')]), { offset: 0 }), { code: 'RANGE_INVALID', detail: { offset: 0, size: 3 } })
    t.equal(await staging.size(id), 3)
  })

  t.test('a chunk whose length differs from the declared one is refused and rolled back', async (t) => {
    const { staging } = await make(t)
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('abc')]))
    await t.rejects(staging.append(id, Readable.from([Buffer.from('toolong')]), { offset: 3, length: 4 }), { code: 'BLOB_UPLOAD_INVALID' })
    await t.rejects(staging.append(id, Readable.from([Buffer.from('ab')]), { offset: 3, length: 4 }), { code: 'BLOB_UPLOAD_INVALID' })
    t.equal(await staging.size(id), 3)
    t.equal(await staging.append(id, Readable.from([Buffer.from('defg')]), { offset: 3, length: 4 }), 7)
  })

  t.test('a stream that fails mid-chunk leaves the upload as it was', async (t) => {
    const { staging } = await make(t)
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('kept')]))
    await t.rejects(staging.append(id, failingStream(Buffer.from('partial'))), /client went away/)
    t.equal(await staging.size(id), 4)
  })

  t.test('commit verifies digest and size; a failed commit leaves the upload and stores nothing', async (t) => {
    const { staging, store } = await make(t)
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('some bytes')]))
    const wrong = digestOf('other bytes')
    await t.rejects(commitPlaced(staging, id, { digest: wrong }), { code: 'DIGEST_INVALID' })
    await t.rejects(commitPlaced(staging, id, { digest: digestOf('some bytes'), size: 3 }), { code: 'SIZE_INVALID' })
    await t.rejects(commitPlaced(staging, id, { digest: 'md5:abc' }), { code: 'DIGEST_INVALID' })
    t.equal(await store.stat(wrong), null)
    t.equal(await store.stat(digestOf('some bytes')), null)
    t.equal(await staging.size(id), 10, 'still there for the caller to cancel')
  })

  t.test('cancel removes the upload', async (t) => {
    const { staging } = await make(t)
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('abandoned')]))
    t.equal(await staging.cancel(id), true)
    t.equal(await staging.cancel(id), false)
    await t.rejects(staging.size(id), { code: 'BLOB_UPLOAD_UNKNOWN' })
    await t.rejects(staging.append(id, Readable.from([Buffer.from('x')])), { code: 'BLOB_UPLOAD_UNKNOWN' })
    await t.rejects(commitPlaced(staging, id, { digest: digestOf('abandoned') }), { code: 'BLOB_UPLOAD_UNKNOWN' })
  })

  t.test('list shows every upload with its size and last write', async (t) => {
    const { staging } = await make(t)
    const before = Date.now() - 1000
    const other = 'f0e1d2c3-0000-4000-8000-000000000001'
    await staging.create(id)
    await staging.create(other)
    await staging.append(other, Readable.from([Buffer.from('12345')]))
    const entries = []
    for await (const entry of staging.list()) entries.push(entry)
    t.same(
      entries.map((e) => ({ id: e.id, size: e.size })),
      [
        { id, size: 0 },
        { id: other, size: 5 },
      ],
    )
    for (const e of entries) t.ok(e.modifiedAt >= before && e.modifiedAt <= Date.now() + 1000, 'modifiedAt is a recent time')
  })

  t.test('ids that could leave the staging area are unknown uploads', async (t) => {
    const { staging } = await make(t)
    for (const bad of ['../blobs', 'a/b', '', '.hidden']) {
      await t.rejects(staging.size(bad), { code: 'BLOB_UPLOAD_UNKNOWN' }, JSON.stringify(bad))
    }
  })

  t.test('a large upload in many chunks', async (t) => {
    const { staging, store } = await make(t)
    await staging.create(id)
    const chunk = Buffer.alloc(256 * 1024, 3)
    let offset = 0
    for (let i = 0; i < 8; i++) offset = await staging.append(id, Readable.from([chunk]), { offset, length: chunk.length })
    const whole = Buffer.concat(Array.from({ length: 8 }, () => chunk))
    const info = await commitPlaced(staging, id, { digest: digestOf(whole), size: whole.length })
    t.equal(info.size, 8 * 256 * 1024)
    t.same(await readAll(await store.open(info.digest)), whole)
  })

  t.test('a commit may carry the last chunk; a failed one leaves the upload as it was, a wrong digest keeps it', async (t) => {
    const { staging, store } = await make(t)
    await staging.create(id)
    await staging.append(id, Readable.from([Buffer.from('first ')]))
    await t.rejects(commitPlaced(staging, id, { digest: digestOf('first last') }, { source: failingStream(Buffer.from('la')), chunk: { offset: 6 } }), /client went away/)
    t.equal(await staging.size(id), 6, 'the failed last chunk changed nothing')
    await t.rejects(commitPlaced(staging, id, { digest: digestOf('first last') }, { source: Readable.from([Buffer.from('last')]), chunk: { offset: 2 } }), { code: 'RANGE_INVALID' })
    await t.rejects(commitPlaced(staging, id, { digest: digestOf('other') }, { source: Readable.from([Buffer.from('last')]), chunk: { offset: 6 } }), { code: 'DIGEST_INVALID' })
    t.equal(await staging.size(id), 10, 'a digest that does not match leaves the upload with the last chunk, for the caller to cancel')
    t.equal(await staging.cancel(id), true)
    const other = 'f0e1d2c3-0000-4000-8000-000000000002'
    await staging.create(other)
    await staging.append(other, Readable.from([Buffer.from('first ')]))
    const info = await commitPlaced(staging, other, { digest: digestOf('first last'), size: 10 }, { source: Readable.from([Buffer.from('last')]), chunk: { offset: 6, length: 4 } })
    t.same(info, { digest: digestOf('first last'), size: 10 })
    t.same(await readAll(await store.open(info.digest)), Buffer.from('first last'))
    t.same(await stagedIds(staging), [], 'nothing left')
  })

  t.test('replicas take turns on one upload: appends alternate, the last chunk and the commit land on another', async (t) => {
    const fixture = await make(t)
    if (!fixture.replica) return t.pass('nothing is shared between processes (in memory)')
    const { staging: a, store } = fixture
    const b = fixture.replica()
    // Past a 5 MiB part, so a replica continues parts and a tail another one sent.
    const MiB = 1024 * 1024
    const data = Buffer.alloc(9 * MiB + 7)
    for (let i = 0; i + 4 <= data.length; i += 4) data.writeUInt32BE((i * 2654435761) >>> 0, i)
    await a.create(id)
    let offset = await a.append(id, Readable.from([data.subarray(0, 3 * MiB)]), { offset: 0 })
    t.equal(await b.size(id), offset, 'the other replica sees the first chunk')
    offset = await b.append(id, Readable.from([data.subarray(offset, 7 * MiB)]), { offset })
    offset = await a.append(id, Readable.from([data.subarray(offset, 8 * MiB)]), { offset, length: MiB })
    t.equal(offset, 8 * MiB)
    const info = await commitPlaced(b, id, { digest: digestOf(data), size: data.length }, { source: Readable.from([data.subarray(offset)]), chunk: { offset } })
    t.same(info, { digest: digestOf(data), size: data.length })
    t.ok((await readAll(await store.open(info.digest))).equals(data), 'the blob holds every byte in order')
    await t.rejects(a.size(id), { code: 'BLOB_UPLOAD_UNKNOWN' }, 'gone for the replica that started it too')
    t.same(await stagedIds(a), [])
  })

  t.test('replicas take turns: a chunk that fails on one is sent again to the other; the first commits', async (t) => {
    const fixture = await make(t)
    if (!fixture.replica) return t.pass('nothing is shared between processes (in memory)')
    const { staging: a, store } = fixture
    const b = fixture.replica()
    const MiB = 1024 * 1024
    const data = Buffer.alloc(12 * MiB + 3)
    for (let i = 0; i + 4 <= data.length; i += 4) data.writeUInt32BE((i * 40503) >>> 0, i)
    await a.create(id)
    let offset = await a.append(id, Readable.from([data.subarray(0, 2 * MiB)]))
    // More than a part arrives on B before its client goes away: parts are sent, then nothing counts.
    await t.rejects(b.append(id, failingStream(Buffer.alloc(6 * MiB, 0xee)), { offset }), /client went away/)
    t.equal(await a.size(id), offset, 'the failed chunk left the upload as it was, seen from either')
    await t.rejects(a.append(id, Readable.from([data.subarray(offset, offset + 10)]), { offset, length: 11 }), { code: 'BLOB_UPLOAD_INVALID' })
    t.equal(await b.size(id), offset)
    offset = await b.append(id, Readable.from([data.subarray(offset, 11 * MiB)]), { offset })
    offset = await b.append(id, Readable.from([data.subarray(offset)]), { offset })
    t.equal(offset, data.length)
    // A's running hash covers only what it saw: its commit must read the bytes back.
    const info = await commitPlaced(a, id, { digest: digestOf(data), size: data.length })
    t.same(info, { digest: digestOf(data), size: data.length })
    t.ok((await readAll(await store.open(info.digest))).equals(data))
    t.same(await stagedIds(b), [])
  })
}
