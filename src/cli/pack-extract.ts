// The client side of `pack pull`: unpacks a downloaded pack archive into `<targetDir>/<folderName>/`.
//
// The archive comes from a server, so it is treated as hostile: every entry goes through the
// same checks the registry applies on push (no absolute paths, `..`, links or devices), and the
// pack root is found with the same rule (pack.json at the archive root, or inside its single
// top-level folder, which is then stripped). Everything is written into a hidden temporary folder
// next to the destination and renamed into place only once complete, so a failed or interrupted
// pull never leaves a half-written pack behind, and never touches an existing folder unless asked
// to replace it (`pack pull --force`), which then happens only once the new one is complete. It
// is inflated under the registry's default archive limits (a ratio, unpacked size and entry
// count no default registry would have accepted at push is refused), so a bomb costs little.

import { randomBytes } from 'node:crypto'
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Header } from 'tar-stream'
import { checkEntry, findPackRoot, inflateTar, PACK_ROOT_NOT_FOUND } from '../packs/archive-read.js'
import { unlessMissing } from '../files.js'
import { CLIENT_ARCHIVE_LIMITS } from './archive-limits.js'

export async function extractPackArchive(archive: Readable, targetDir: string, folderName: string, options: { replace?: boolean } = {}): Promise<string> {
  try {
    if (folderName === '' || folderName === '.' || folderName === '..' || /[\\/\0]/.test(folderName)) {
      throw new Error(`invalid folder name for the pack: ${JSON.stringify(folderName)}`)
    }
    const finalPath = join(targetDir, folderName)
    if (!options.replace) await refuseExisting(finalPath)
    // mkdir rather than mkdtemp: mkdtemp makes the folder 0700, and in the no-top-folder case
    // this folder becomes the pack itself, which should get the usual permissions.
    const temp = join(targetDir, `.${folderName}.partial-${randomBytes(6).toString('hex')}`)
    await mkdir(temp)
    try {
      const { files, dirs } = await unpackInto(archive, temp)
      const root = findPackRoot(files, dirs)
      if (root === undefined) throw new Error(PACK_ROOT_NOT_FOUND)
      const complete = root === '' ? temp : join(temp, root)
      if (options.replace) {
        await replaceFolder(complete, finalPath, temp)
        return finalPath
      }
      // Checked again: the download took a while, and rename() would silently replace an
      // empty folder that appeared meanwhile.
      await refuseExisting(finalPath)
      await rename(complete, finalPath)
      return finalPath
    } finally {
      await rm(temp, { recursive: true, force: true })
    }
  } catch (err) {
    // Stop the download too: nobody will read the rest of it.
    archive.destroy()
    throw err
  }
}

export class FolderExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists`)
    this.name = 'FolderExistsError'
  }
}

async function refuseExisting(path: string): Promise<void> {
  if ((await unlessMissing(lstat(path))) === null) return
  throw new FolderExistsError(path)
}

/**
 * Puts the complete folder at `path` in place of whatever is there: the old one is moved aside
 * beside `temp` first, moved back if the new one cannot take its place, and removed after.
 */
async function replaceFolder(complete: string, path: string, temp: string): Promise<void> {
  const old = `${temp}-replaced`
  const moved = (await unlessMissing(rename(path, old))) !== null
  try {
    await rename(complete, path)
  } catch (err) {
    if (moved) await rename(old, path)
    throw err
  }
  await rm(old, { recursive: true, force: true })
}

/** Writes every entry under `dir` as it arrives; returns the file and folder paths written. */
async function unpackInto(archive: Readable, dir: string): Promise<{ files: Set<string>; dirs: Set<string> }> {
  const files = new Set<string>()
  const dirs = new Set<string>()
  // An error raised while writing an entry is the one to report, not what the streams make of it.
  let failure: unknown

  const writeEntry = async (header: Header, stream: AsyncIterable<unknown>): Promise<void> => {
    const safe = checkEntry(header)
    if (safe === undefined) return
    const parts = safe.path.split('/')
    const absPath = join(dir, ...parts)
    const ancestors = safe.kind === 'directory' ? parts.length : parts.length - 1
    for (let i = 1; i <= ancestors; i++) dirs.add(parts.slice(0, i).join('/'))
    try {
      if (safe.kind === 'directory') {
        await mkdir(absPath, { recursive: true })
        return
      }
      await mkdir(dirname(absPath), { recursive: true })
      const mode = (header.mode & 0o111) !== 0 ? 0o755 : 0o644
      // 'wx': a second entry with the same path fails instead of replacing the first.
      const file = await open(absPath, 'wx', mode)
      try {
        for await (const chunk of stream) await file.write(chunk as Buffer)
      } finally {
        await file.close()
      }
      files.add(safe.path)
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'the path appears twice' : (err as Error).message
      throw new Error(`cannot write archive entry ${JSON.stringify(header.name)}: ${reason}`)
    }
  }

  try {
    await inflateTar(archive, CLIENT_ARCHIVE_LIMITS, async (header, stream) => {
      try {
        await writeEntry(header, stream)
      } catch (err) {
        failure ??= err
        throw err
      }
      return 'next'
    })
  } catch (err) {
    throw failure ?? new Error(`cannot unpack the pack archive: ${(err as Error).message}`)
  }
  return { files, dirs }
}
