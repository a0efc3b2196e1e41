// A pack folder on the pusher's disk: validated with the same src/packs rules the server
// applies (pack.json schema, files it names, values.yaml, YAML that does not parse, the tag it
// will get), so mistakes are reported before any upload, and turned into the reproducible
// archive `pack push` sends: the same files give the same bytes, hence the same digest, from
// any clone on any machine.

import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isRegistryError } from '../errors.js'
import { writeReproducibleArchive } from '../packs/archive-write.js'
import { checkPack, type PackJson, type PackProblem } from '../packs/pack-json.js'
import { YAML_FILES, yamlProblem } from '../packs/yaml-check.js'
import { ARCHIVE_LIMIT_DEFAULTS } from '../config/schema.js'
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
    const checked = checkPack(text, paths, options, await yamlProblems(files))
    const packJson = checked.pack
    return { dir, packJson, group: checked.group, tag: checked.tag, warnings: checked.warnings, folder: `${packJson.name}-${packJson.version}`, files }
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`invalid pack in ${dir}: ${isRegistryError(err) ? err.message : (err as Error).message}`)
  }
}

/**
 * What the registry's YAML check will say of the pack's YAML files (files larger than a
 * default registry accepts are refused at push anyway, and left to it).
 */
async function yamlProblems(files: PackFile[]): Promise<PackProblem[]> {
  const problems: PackProblem[] = []
  for (const name of YAML_FILES) {
    const file = files.find((f) => f.path === name)
    if (file === undefined || file.size > ARCHIVE_LIMIT_DEFAULTS.fileSize) continue
    const problem = yamlProblem(name, await readFile(file.absPath, 'utf8'))
    if (problem !== null) problems.push(problem)
  }
  return problems
}

/** Archives up to this size are kept in memory; a bigger one goes to a temp file. */
const IN_MEMORY_ARCHIVE_MAX = 32 * 1024 * 1024

export interface StagedArchive {
  digest: string
  size: number
  /** a new stream of the archive's bytes */
  open(): Readable
  /** frees what holds the archive (the temp file of a big one) */
  remove(): Promise<void>
}

/**
 * Builds the archive once, hashing it on the way: in memory, or past `inMemoryMax` bytes in a
 * private temp file. The upload needs its digest and size before it starts (the body has a
 * Content-Length), and building it a second time to send it would double the gzip work, which
 * is most of a push's CPU for a pack of charts. `signal` stops the build (the push was refused).
 */
export async function stageArchive(pack: LocalPack, options: { inMemoryMax?: number; signal?: AbortSignal } = {}): Promise<StagedArchive> {
  const inMemoryMax = options.inMemoryMax ?? IN_MEMORY_ARCHIVE_MAX
  const hash = createHash('sha256')
  let size = 0
  const chunks = writeReproducibleArchive(pack.folder, pack.files)[Symbol.asyncIterator]()
  const next = async (): Promise<Buffer | undefined> => {
    if (options.signal?.aborted) {
      await chunks.return?.()
      throw options.signal.reason
    }
    const { value, done } = await chunks.next()
    if (done) return undefined
    hash.update(value as Buffer)
    size += (value as Buffer).length
    return value as Buffer
  }
  const failed = (err: unknown) => new CliError(`cannot archive ${pack.dir}: ${(err as Error).message}`)
  const head: Buffer[] = []
  try {
    for (let chunk = await next(); chunk !== undefined; chunk = await next()) {
      head.push(chunk)
      if (size > inMemoryMax) break
    }
  } catch (err) {
    throw failed(err)
  }
  if (size <= inMemoryMax) {
    const digest = `sha256:${hash.digest('hex')}`
    return { digest, size, open: () => Readable.from(head, { objectMode: false }), remove: async () => {} }
  }
  const dir = await mkdtemp(join(tmpdir(), 'packyard-push-'))
  const path = join(dir, 'archive.tar.gz')
  const remove = () => rm(dir, { recursive: true, force: true })
  try {
    await pipeline(async function* () {
      yield* head.splice(0)
      for (let chunk = await next(); chunk !== undefined; chunk = await next()) yield chunk
    }, createWriteStream(path, { flags: 'wx', mode: 0o600 }))
  } catch (err) {
    await remove()
    throw failed(err)
  }
  return { digest: `sha256:${hash.digest('hex')}`, size, open: () => createReadStream(path), remove }
}
