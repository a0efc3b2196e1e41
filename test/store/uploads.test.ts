// Upload staging: both implementations through the conformance suite, plus the on-disk
// layout and crash-safety of the filesystem one.

import t from 'tap'
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { FilesystemBlobStore } from '../../src/store/fs.js'
import { MemoryBlobStore } from '../../src/store/memory.js'
import { FilesystemUploadStaging, MemoryUploadStaging, openUploadStaging } from '../../src/store/uploads.js'
import { tempDir } from '../helpers.js'
import { digestOf } from './conformance.js'
import { commitPlaced, stagingConformance } from './uploads-conformance.js'
import { putBlob } from '../../src/store/types.js'

async function fsFixture(t: { teardown(fn: () => void): void }) {
  const root = join(tempDir(t), 'root')
  const store = new FilesystemBlobStore(root)
  await store.init()
  // Another replica on the same root (a shared volume): a store and a staging of its own.
  return { store, staging: new FilesystemUploadStaging(store), replica: () => new FilesystemUploadStaging(new FilesystemBlobStore(root)) }
}

t.test('in-memory staging', async (t) => {
  stagingConformance(t, async () => {
    const store = new MemoryBlobStore()
    return { store, staging: new MemoryUploadStaging(store) }
  })
})

t.test('filesystem staging', async (t) => {
  stagingConformance(t, fsFixture)
})

t.test('openUploadStaging picks the staging that matches the store', async (t) => {
  const { store } = await fsFixture(t)
  t.type(openUploadStaging(store), FilesystemUploadStaging)
  t.type(openUploadStaging(new MemoryBlobStore()), MemoryUploadStaging)
})

t.test('filesystem: bytes wait in <root>/uploads/<id> and become a blob only on commit', async (t) => {
  const { store, staging } = await fsFixture(t)
  const id = '6a1f0f8e-3c2d-4b5a-9e8f-7d6c5b4a3f21'
  await staging.create(id)
  await staging.append(id, Readable.from([Buffer.from('on disk')]))
  t.equal(readFileSync(join(store.uploadsDir, id), 'utf8'), 'on disk')
  t.equal(existsSync(store.pathOf(digestOf('on disk'))), false, 'no blob before the commit')
  await commitPlaced(staging, id, { digest: digestOf('on disk') })
  t.equal(readFileSync(store.pathOf(digestOf('on disk')), 'utf8'), 'on disk')
  t.same(readdirSync(store.uploadsDir), [], 'the staged file is removed')
})

t.test('filesystem: committing content the store already has keeps one copy', async (t) => {
  const { store, staging } = await fsFixture(t)
  await putBlob(store, Readable.from([Buffer.from('twice')]))
  const id = '6a1f0f8e-3c2d-4b5a-9e8f-7d6c5b4a3f22'
  await staging.create(id)
  await staging.append(id, Readable.from([Buffer.from('twice')]))
  t.same(await commitPlaced(staging, id, { digest: digestOf('twice') }), { digest: digestOf('twice'), size: 5 })
  t.same(readdirSync(store.uploadsDir), [])
})

t.test('filesystem: list also shows temp files other writers left, with their mtime', async (t) => {
  const { store, staging } = await fsFixture(t)
  const stray = join(store.uploadsDir, 'put-0f0e0d0c-0b0a-4009-8008-070605040302')
  writeFileSync(stray, 'interrupted put')
  const old = new Date(Date.now() - 3600_000)
  utimesSync(stray, old, old)
  writeFileSync(join(store.uploadsDir, 'not a staged name'), 'ignored')
  const entries = []
  for await (const entry of staging.list()) entries.push(entry)
  t.equal(entries.length, 1)
  t.equal(entries[0]?.id, 'put-0f0e0d0c-0b0a-4009-8008-070605040302')
  t.ok(Math.abs((entries[0]?.modifiedAt ?? 0) - old.getTime()) < 1000)
  t.equal(await staging.cancel('put-0f0e0d0c-0b0a-4009-8008-070605040302'), true)
  t.equal(existsSync(stray), false)
})

t.test('filesystem: an upload continued by another process (after a restart) is re-hashed right', async (t) => {
  const { store, staging } = await fsFixture(t)
  const id = '0b1e2d3c-4f5a-4b6c-8d7e-9f0a1b2c3d4e'
  await staging.create(id)
  await staging.append(id, Readable.from([Buffer.from('first half, ')]))
  const restarted = new FilesystemUploadStaging(store)
  await restarted.append(id, Readable.from([Buffer.from('second half')]))
  t.same(await commitPlaced(restarted, id, { digest: digestOf('first half, second half') }), { digest: digestOf('first half, second half'), size: 23 })

  const other = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'
  await staging.create(other)
  await staging.append(other, Readable.from([Buffer.from('abc')]))
  // Another process appended without this one seeing it: its running hash no longer fits.
  writeFileSync(join(store.uploadsDir, other), 'abcdef')
  await t.rejects(commitPlaced(staging, other, { digest: digestOf('abc') }), { code: 'DIGEST_INVALID' })
  t.same(await commitPlaced(staging, other, { digest: digestOf('abcdef') }), { digest: digestOf('abcdef'), size: 6 })
})

t.test('filesystem: a failed append keeps the running hash of what came before', async (t) => {
  const { staging } = await fsFixture(t)
  const id = '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60'
  await staging.create(id)
  await staging.append(id, Readable.from([Buffer.from('kept ')]))
  await t.rejects(staging.append(id, Readable.from([Buffer.from('too long')]), { length: 3 }), { code: 'BLOB_UPLOAD_INVALID' })
  await staging.append(id, Readable.from([Buffer.from('then more')]))
  t.same(await commitPlaced(staging, id, { digest: digestOf('kept then more') }), { digest: digestOf('kept then more'), size: 14 })
})
