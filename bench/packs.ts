// Synthetic packs, deterministic from a seed. Each is a valid pack (pack.json, values.yaml,
// README.md and the chart its pack.json names) archived with the same reproducible writer
// `packyard pack push` uses, so both registries receive what a real push sends. The chart is
// incompressible bytes, as a real chart .tgz is, so the archive sizes are real sizes. A set has
// the mixed sizes of a real pack repository (mostly 50-300 KB, about one in ten 1-5 MB, about
// one in a hundred 50 MB) or only the small ones (50-300 KB). Sets are written to disk
// before a round and streamed from there, so a push never measures pack generation: as
// archives for the HTTP clients, or as pack folders for the `packyard pack push` of the CLI
// scenario.

import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type ArchiveInput, writeReproducibleArchive } from '../src/packs/archive-write.js'
import { sha256Digest } from '../src/store/digest.js'
import { forEachConcurrent } from './pool.js'
import { Prng, randomBytes, randomStream } from './random.js'

export interface SyntheticPack {
  name: string
  version: string
  /** the .tar.gz on disk */
  path: string
  size: number
  digest: string
}

/** `mixed`: the sizes of a real pack repository, 1-5 MB and 50 MB packs included; `small`: only 50-300 KB */
export type SizeMix = 'mixed' | 'small'

export interface PackSetSpec {
  seed: string
  count: number
  name: (index: number) => string
  version: (index: number) => string
  /** mixed unless said; `{ bytes }`: every chart exactly that size (the sync scenario's large packs) */
  sizes?: SizeMix | { bytes: number }
}

const KB = 1000
const MB = 1000 * KB

/** Chart sizes for `count` packs: the mix is fixed by count, only the order and exact sizes vary. */
function chartSizes(prng: Prng, count: number, mix: SizeMix | { bytes: number }): number[] {
  if (typeof mix === 'object') return new Array<number>(count).fill(mix.bytes)
  const huge = mix === 'mixed' ? Math.max(1, Math.round(count / 100)) : 0
  const large = mix === 'mixed' ? Math.max(1, Math.round(count / 10)) : 0
  const sizes: number[] = []
  for (let i = 0; i < count; i++) {
    if (i < huge) sizes.push(50 * MB)
    else if (i < huge + large) sizes.push(prng.int(1 * MB, 5 * MB))
    else sizes.push(prng.int(50 * KB, 300 * KB))
  }
  return prng.shuffle(sizes)
}

/** The pack.json of a synthetic pack, naming `chart` when given. */
export function packJson(name: string, version: string, chart: string | null): string {
  return JSON.stringify(
    {
      name,
      displayName: `Bench ${name}`,
      version,
      layer: 'addon',
      addonType: 'app',
      cloudTypes: ['all'],
      ...(chart ? { charts: [chart] } : {}),
    },
    null,
    2,
  )
}

/** A values.yaml of a few KB, like a real pack's, with text that compresses as YAML does. */
function valuesYaml(prng: Prng, name: string): string {
  const lines = ['pack:', `  namespace: ${name}`, '  content:', '    images:']
  for (let i = prng.int(5, 20); i > 0; i--) lines.push(`      - image: registry.example.com/${name}/component-${i}:v1.${prng.int(0, 30)}.${prng.int(0, 9)}`)
  lines.push('charts:', `  ${name}:`)
  for (let i = prng.int(40, 120); i > 0; i--) lines.push(`    setting${i}: ${prng.next() < 0.5 ? 'true' : `"value-${prng.int(0, 1e6)}"`}`)
  return `${lines.join('\n')}\n`
}

function input(path: string, content: Buffer): ArchiveInput {
  return { path, size: content.length, mode: 0o644, open: () => Readable.from([content]) }
}

/** Writes one archive to `path`, hashing it on the way. */
async function writeArchive(path: string, top: string, files: ArchiveInput[]): Promise<{ size: number; digest: string }> {
  const hash = createHash('sha256')
  let size = 0
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      size += chunk.length
      callback(null, chunk)
    },
  })
  await pipeline(writeReproducibleArchive(top, files), tap, createWriteStream(path))
  return { size, digest: `sha256:${hash.digest('hex')}` }
}

interface PackPlan {
  name: string
  version: string
  files: ArchiveInput[]
}

/** What each pack of the set holds: its name, version and files, the chart streamed on demand. */
function planPackSet(spec: PackSetSpec): PackPlan[] {
  const prng = new Prng(spec.seed)
  return chartSizes(prng, spec.count, spec.sizes ?? 'mixed').map((chartSize, i) => {
    const name = spec.name(i)
    const version = spec.version(i)
    const chart = `charts/${name}-${version}.tgz`
    const files = [
      input('pack.json', Buffer.from(packJson(name, version, chart))),
      input('values.yaml', Buffer.from(valuesYaml(prng, name))),
      input('README.md', Buffer.from(`# ${name}\n\nA synthetic pack made by the Packyard benchmark.\n`)),
      { path: chart, size: chartSize, mode: 0o644, open: () => randomStream(`${spec.seed}:chart:${i}`, chartSize) },
    ]
    return { name, version, files }
  })
}

function fileName(spec: PackSetSpec, index: number, suffix: string): string {
  // The version too: two sets of one seed (the same sizes) with other versions must not share files.
  return `${spec.seed}-${spec.version(index)}-${index}${suffix}`.replace(/[^A-Za-z0-9.-]/g, '_')
}

/**
 * Writes the set's archives into `dir`. Two at a time: gzip runs on the libuv thread pool, so
 * this keeps both cores busy without starving anything else.
 */
export async function buildPackSet(dir: string, spec: PackSetSpec): Promise<SyntheticPack[]> {
  const plans = planPackSet(spec)
  const packs: SyntheticPack[] = new Array<SyntheticPack>(plans.length)
  await forEachConcurrent(plans, 2, async ({ name, version, files }, i) => {
    const path = join(dir, fileName(spec, i, '.tar.gz'))
    packs[i] = { name, version, path, ...(await writeArchive(path, `${name}-${version}`, files)) }
  })
  return packs
}

export interface PackFolder {
  name: string
  version: string
  /** the folder holding pack.json */
  dir: string
  /** the bytes of its files */
  size: number
}

/** Writes the set as pack folders under `dir`, one per pack, as a pack repository holds them. */
export async function buildPackFolders(dir: string, spec: PackSetSpec): Promise<PackFolder[]> {
  const plans = planPackSet(spec)
  const folders: PackFolder[] = new Array<PackFolder>(plans.length)
  await forEachConcurrent(plans, 2, async ({ name, version, files }, i) => {
    const folder = join(dir, fileName(spec, i, ''))
    for (const file of files) {
      await mkdir(dirname(join(folder, file.path)), { recursive: true })
      await pipeline(file.open(), createWriteStream(join(folder, file.path)))
    }
    folders[i] = { name, version, dir: folder, size: files.reduce((sum, f) => sum + f.size, 0) }
  })
  return folders
}

async function archiveInMemory(top: string, files: ArchiveInput[]): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of writeReproducibleArchive(top, files)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The smallest valid pack (pack.json and values.yaml), in memory: for seeding listings. */
export async function tinyPackArchive(name: string, version: string): Promise<Buffer> {
  const files = [input('pack.json', Buffer.from(packJson(name, version, null))), input('values.yaml', Buffer.from(`pack:\n  namespace: ${name}\n`))]
  return archiveInMemory(`${name}-${version}`, files)
}

/** The smallest valid pack written to `dir` as an archive to push: the pack the read scenarios GET. */
export async function writeTinyPack(dir: string, name: string, version: string): Promise<SyntheticPack> {
  const archive = await tinyPackArchive(name, version)
  const path = join(dir, `${name}-${version}.tar.gz`)
  await writeFile(path, archive)
  return { name, version, path, size: archive.length, digest: sha256Digest(archive) }
}

/**
 * A valid pack in memory whose chart is `chartSize` pseudo-random bytes drawn from `seed`: the
 * same name and version with another seed is other content, which is what a forced re-push
 * that really changes the pack needs (the chaos campaign's writers).
 */
export async function seededPackArchive(name: string, version: string, seed: string, chartSize: number): Promise<Buffer> {
  const chart = `charts/${name}-${version}.tgz`
  const files = [
    input('pack.json', Buffer.from(packJson(name, version, chart))),
    input('values.yaml', Buffer.from(`pack:\n  namespace: ${name}\n  seed: "${seed}"\n`)),
    input(chart, randomBytes(seed, chartSize)),
  ]
  return archiveInMemory(`${name}-${version}`, files)
}
