// Space kept back on the storage's disk so that deleting works when pushes have filled it: SQLite
// needs room to write even a DELETE, and an operator frees space through the API (delete a
// version, a tag) and garbage collection. The reserve is a file of zeros under the root; when a
// metadata write fails with a full disk it is released and the write retried. Blob writes make
// sure it exists first, so they can never eat it: while it cannot be made whole again, new blobs
// are refused with 507 and only deletes and collection run.

import { constants, unlinkSync } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { storageFull } from '../errors.js'
import { writeFully } from './file-writes.js'

export const RESERVE_BYTES = 8 * 1024 * 1024
const CHUNK = Buffer.alloc(1024 * 1024)

export class SpaceReserve {
  /** Known to be whole; checked on disk again only after a release. */
  private whole = false

  constructor(
    private readonly path: string,
    private readonly bytes = RESERVE_BYTES,
  ) {}

  /**
   * Makes the reserve whole (writes and fsyncs what is missing). Throws 507 when the disk has
   * no room for it: a blob write must not start then.
   */
  async ensure(): Promise<void> {
    if (this.whole) return
    const size = (await stat(this.path).catch(() => null))?.size ?? 0
    if (size < this.bytes) {
      const fh = await open(this.path, constants.O_WRONLY | constants.O_CREAT, 0o600)
      try {
        for (let at = size; at < this.bytes; at += CHUNK.length) await writeFully(fh, CHUNK.subarray(0, Math.min(CHUNK.length, this.bytes - at)), at)
        await fh.sync()
      } catch (err) {
        throw Object.assign(storageFull(), { cause: err })
      } finally {
        await fh.close()
      }
    }
    this.whole = true
  }

  /**
   * Frees the reserve (synchronously: it runs inside a failed SQLite write's retry). True when
   * there was something to free.
   */
  release(): boolean {
    try {
      unlinkSync(this.path)
    } catch {
      return false
    } finally {
      this.whole = false
    }
    return true
  }
}
