// A pack folder on the pusher's disk: validated with the same src/packs rules the server
// applies (pack.json schema, files it names, values.yaml, the tag it will get), so mistakes are
// reported before any upload, and turned into the reproducible archive `pack push` sends:
// the same files give the same bytes, hence the same digest, from any clone on any machine.

import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { isRegistryError } from '../errors.js'
import { writeReproducibleArchive } from '../packs/archive-write.js'
import { checkPack, type PackJson, type PackProblem } from '../packs/pack-json.js'
import { CliError } from './command.js'
import { collectPackFiles, type PackFile } from './pack-folder.js'

export interface LocalPack {
  dir: string
  packJson: PackJson
  group: string | null
  /** The tag the registry will give this version: `[group__]version`. */
  tag: string
  /** What the registry will accept but warn about (validation's second column). */
  warnings: PackProblem[]
  /** `<name>-<version>`: the archive's top folder, and the file name without `.tar.gz`. */
  folder: string
  files: PackFile[]
}

/** `strict`: warnings refuse the pack too (pack push --strict). */
export async function readLocalPack(dir: string, options: { strict: boolean } = { strict: false }): Promise<LocalPack> {
  let isDir: boolean
  try {
    isDir = (await stat(dir)).isDirectory()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(code === 'ENOENT' ? `${dir} does not exist` : `cannot read ${dir}: ${(err as Error).message}`)
  }
  if (!isDir) throw new CliError(`${dir} is not a folder; pack push takes the folder holding pack.json`)
  let text: string
  try {
    text = await readFile(join(dir, 'pack.json'), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`${dir} has no pack.json, so it is not a pack folder (packyard pack build NAME DIR makes one from a Helm chart)`)
    }
    throw new CliError(`cannot read ${join(dir, 'pack.json')}: ${(err as Error).message}`)
  }
  try {
    const files = await collectPackFiles(dir)
    const paths = new Set(files.map((f) => f.path))
    if (!paths.has('pack.json')) throw new CliError(`pack.json is left out by ${join(dir, '.packignore')}; a pack cannot go without it`)
    const checked = checkPack(text, paths, options)
    const packJson = checked.pack
    return { dir, packJson, group: checked.group, tag: checked.tag, warnings: checked.warnings, folder: `${packJson.name}-${packJson.version}`, files }
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`invalid pack in ${dir}: ${isRegistryError(err) ? err.message : (err as Error).message}`)
  }
}

export function packArchive(pack: LocalPack): Readable {
  return writeReproducibleArchive(pack.folder, pack.files)
}

/** The archive's sha256 digest and size, computed by building it once without storing it. */
export async function measureArchive(pack: LocalPack): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  try {
    for await (const chunk of packArchive(pack)) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
  } catch (err) {
    throw new CliError(`cannot archive ${pack.dir}: ${(err as Error).message}`)
  }
  return { digest: `sha256:${hash.digest('hex')}`, size }
}
