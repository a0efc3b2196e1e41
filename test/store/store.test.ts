import t from 'tap'
import { readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { FilesystemBlobStore } from '../../src/store/fs.js'
import { MemoryBlobStore } from '../../src/store/memory.js'
import { tempDir } from '../helpers.js'
import { digestOf, storeConformance } from './conformance.js'
import { putBlob } from '../../src/store/types.js'

t.test('memory store', async (t) => {
  storeConformance(t, async () => new MemoryBlobStore())
})

t.test('filesystem store', async (t) => {
  let current: FilesystemBlobStore | null = null
  storeConformance(
    t,
    async (t) => {
      const store = new FilesystemBlobStore(join(tempDir(t), 'root'))
      await store.init()
      current = store
      return store
    },
    {
      leftovers: async () => readdirSync((current as FilesystemBlobStore).uploadsDir),
      truncate: async (store, digest, size) => truncateSync((store as FilesystemBlobStore).pathOf(digest), size),
    },
  )
})

t.test('filesystem layout is <root>/blobs/sha256/<2 hex>/<64 hex>, with the space reserve beside it', async (t) => {
  const root = join(tempDir(t), 'root')
  const store = new FilesystemBlobStore(root)
  await store.init()
  const { digest } = await putBlob(store, Readable.from([Buffer.from('layout')]))
  const hex = digest.slice(7)
  t.same(readdirSync(join(root, 'blobs', 'sha256', hex.slice(0, 2))), [hex])
  t.equal(statSync(join(root, 'reserved-space')).size, 8 * 1024 * 1024)
})

t.test('filesystem check fails when the storage is gone', async (t) => {
  const root = join(tempDir(t), 'root')
  const store = new FilesystemBlobStore(root)
  await store.init()
  rmSync(root, { recursive: true })
  await t.rejects(store.check(), { code: 'ENOENT' })
})

t.test('a second put of stored content leaves the first file untouched', async (t) => {
  const root = join(tempDir(t), 'root')
  const store = new FilesystemBlobStore(root)
  await store.init()
  const data = Buffer.from('immutable')
  await putBlob(store, Readable.from([data]))
  const before = statSync(store.pathOf(digestOf(data)))
  await putBlob(store, Readable.from([data]))
  const after = statSync(store.pathOf(digestOf(data)))
  t.equal(after.ino, before.ino, 'never overwritten')
})
