// writeFully, writeAllFully and writeBatched against a file handle whose writes store fewer bytes than asked,
// as a filling disk does before it fails: every byte still lands in order, and a write that
// stores nothing is a full disk (ENOSPC), never a silently short file.

import t from 'tap'
import type { FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { writeAllFully, writeBatched, writeFully } from '../../src/store/file-writes.js'

/** A FileHandle whose write() and gathered writev() store at most `perWrite(call)` bytes into `file`. */
function shortWriter(file: Buffer, perWrite: (call: number) => number): { fh: FileHandle; calls: () => number } {
  let calls = 0
  const fh = {
    async write(data: Buffer, offset: number, length: number, position: number) {
      const stored = Math.min(length, perWrite(calls++))
      data.copy(file, position, offset, offset + stored)
      return { bytesWritten: stored, buffer: data }
    },
    async writev(buffers: Buffer[], position: number) {
      const all = Buffer.concat(buffers)
      const stored = Math.min(all.length, perWrite(calls++))
      all.copy(file, position, 0, stored)
      return { bytesWritten: stored, buffers }
    },
  } as unknown as FileHandle
  return { fh, calls: () => calls }
}

const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))

t.test('short writes are continued until every byte is stored', async (t) => {
  const cases: Array<[string, (call: number) => number]> = [
    ['one byte at a time', () => 1],
    ['7 bytes at a time', () => 7],
    ['shrinking writes', (call) => Math.max(1, 500 >> call)],
    ['all at once', () => Number.POSITIVE_INFINITY],
  ]
  for (const [name, perWrite] of cases) {
    const file = Buffer.alloc(1010)
    const { fh, calls } = shortWriter(file, perWrite)
    await writeFully(fh, data, 10)
    t.ok(file.subarray(10).equals(data), `${name}: every byte, in place`)
    t.ok(calls() >= 1, `${name}: ${calls()} write calls`)
  }
})

t.test('a write that stores nothing is a full disk, with the bytes still missing named', async (t) => {
  const file = Buffer.alloc(1000)
  const { fh } = shortWriter(file, (call) => (call < 2 ? 100 : 0))
  await t.rejects(writeFully(fh, data, 0), { code: 'ENOSPC', message: 'no space to write 800 more bytes' })
})

t.test('gathered writes cut short inside or between buffers are continued from the next byte', async (t) => {
  const parts = [data.subarray(0, 100), data.subarray(100, 100), data.subarray(100, 350), data.subarray(350)]
  const cases: Array<[string, (call: number) => number]> = [
    ['one byte at a time', () => 1],
    ['exactly the first buffer', (call) => (call === 0 ? 100 : Number.POSITIVE_INFINITY)],
    ['97 bytes at a time', () => 97],
    ['all at once', () => Number.POSITIVE_INFINITY],
  ]
  for (const [name, perWrite] of cases) {
    const file = Buffer.alloc(1010)
    const { fh } = shortWriter(file, perWrite)
    await writeAllFully(fh, parts, 10)
    t.ok(file.subarray(10).equals(data), `${name}: every byte, in place`)
  }
  const { fh } = shortWriter(Buffer.alloc(1000), (call) => (call < 2 ? 150 : 0))
  await t.rejects(writeAllFully(fh, parts, 0), { code: 'ENOSPC', message: 'no space to write 700 more bytes' })
})

t.test('writeBatched goes through the same loop and returns the position after the last byte', async (t) => {
  const file = Buffer.alloc(1000)
  const { fh } = shortWriter(file, () => 33)
  const seen: number[] = []
  const end = await writeBatched(fh, Readable.from([data.subarray(0, 400), data.subarray(400)]), 0, (chunk) => seen.push(chunk.length))
  t.equal(end, 1000)
  t.same(seen, [400, 600], 'each chunk seen once, before it is written')
  t.ok(file.equals(data))
})
