// Small file jobs every layer shares (server, operator commands, client): telling "not there"
// from a real failure, removing a file that may be gone, and replacing a file atomically and
// durably (temp file, fsync, rename, fsync of the directory), so a crash leaves the old content
// or the new one, never half of either.

import { randomUUID } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** True for "no such file or directory". */
export function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
}

/** The result, or null when the file (or a folder on its path) is not there. */
export async function unlessMissing<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work
  } catch (err) {
    if (isMissing(err)) return null
    throw err
  }
}

/** Removes a file; false when it was not there. */
export async function removeFile(path: string): Promise<boolean> {
  return (await unlessMissing(unlink(path))) !== null
}

/** Makes a rename or link durable: the directory entry itself must reach the disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Replaces `path` with `content` atomically and durably, creating its folder if needed. */
export async function writeFileAtomic(path: string, content: string | Buffer, mode: number): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  const temp = join(dir, `.${randomUUID()}.tmp`)
  try {
    const fh = await open(temp, 'wx', mode)
    try {
      await fh.writeFile(content)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(temp, path)
    await fsyncDir(dir)
  } finally {
    await removeFile(temp)
  }
}
