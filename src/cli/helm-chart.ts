// Helm charts as `pack build` meets them: a chart folder (Chart.yaml at its root) or a chart
// archive (.tgz, as `helm package` or `helm pull` write them). Reads the chart's name, version,
// description and default values, writes the chart archive into the pack, and nests the default
// values under `charts.<chart>` of the pack's values.yaml.
//
// A chart folder is archived with writeReproducibleArchive (top folder = the chart name, like
// `helm package`; .helmignore patterns honoured with the .packignore syntax), so building twice
// gives the same bytes. A .tgz is copied byte for byte: it already is a fixed artifact, and
// re-packing it would break any Helm provenance (.prov) signed over its bytes. It is read under
// the client's archive limits, so a chart .tgz that is a decompression bomb costs little.

import { createReadStream } from 'node:fs'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { drain, inflateTar } from '../packs/archive-read.js'
import { comparePaths, type ArchiveInput } from '../packs/archive-write.js'
import { CLIENT_ARCHIVE_LIMITS } from './archive-limits.js'
import { CliError } from './command.js'
import { packIgnoreMatcher } from './pack-folder.js'
import { isJsonObject } from '../json.js'

export interface Chart {
  /** Where it was read from. */
  source: string
  kind: 'folder' | 'tgz'
  name: string
  version: string
  description: string | undefined
  /** The chart's values.yaml as written (comments included), or null when it has none. */
  valuesText: string | null
}

/** Chart.yaml and values.yaml are small; anything bigger is not what it claims to be. */
const MAX_CHART_FILE = 16 * 1024 * 1024
const HELM_IGNORE = '.helmignore'
const ALWAYS_LEFT_OUT: ReadonlySet<string> = new Set(['.git', '.DS_Store'])
// Both end up in a file name (charts/<name>-<version>.tgz), so no separators or spaces.
const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const CHART_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]*$/

/** Name, version and description from Chart.yaml text. Every scalar is read as a string, so `version: 1.10` stays "1.10". */
export function parseChartYaml(text: string, where: string): { name: string; version: string; description: string | undefined } {
  let doc: unknown
  try {
    doc = parseYaml(text, { schema: 'failsafe' })
  } catch (err) {
    throw new CliError(`${where} is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (!isJsonObject(doc)) throw new CliError(`${where} must be a YAML mapping with name and version`)
  const field = (key: string, pattern: RegExp): string => {
    const value = doc[key]
    if (typeof value !== 'string' || value.trim() === '') throw new CliError(`${where} has no ${key}`)
    if (!pattern.test(value.trim())) throw new CliError(`${where}: ${key} ${JSON.stringify(value)} may only hold letters, digits, ".", "_" and "-"${key === 'version' ? ' and "+"' : ''}`)
    return value.trim()
  }
  const description = typeof doc.description === 'string' && doc.description.trim() !== '' ? doc.description.trim() : undefined
  return { name: field('name', CHART_NAME), version: field('version', CHART_VERSION), description }
}

async function kindOf(path: string): Promise<'folder' | 'tgz'> {
  let stats
  try {
    stats = await lstat(path)
  } catch (err) {
    throw new CliError((err as NodeJS.ErrnoException).code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${(err as Error).message}`)
  }
  if (stats.isDirectory()) return 'folder'
  if (stats.isFile()) return 'tgz'
  throw new CliError(`${path} is neither a chart folder nor a chart .tgz`)
}

async function readSmallFile(path: string): Promise<string | null> {
  try {
    const stats = await lstat(path)
    if (!stats.isFile()) return null
    if (stats.size > MAX_CHART_FILE) throw new CliError(`${path} is larger than ${MAX_CHART_FILE} bytes`)
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

export async function readChart(path: string): Promise<Chart> {
  const kind = await kindOf(path)
  if (kind === 'folder') {
    const chartYaml = await readSmallFile(join(path, 'Chart.yaml'))
    if (chartYaml === null) throw new CliError(`${path} is not a Helm chart: it has no Chart.yaml`)
    const meta = parseChartYaml(chartYaml, join(path, 'Chart.yaml'))
    return { source: path, kind, ...meta, valuesText: await readSmallFile(join(path, 'values.yaml')) }
  }
  const { chartYaml, valuesText } = await readChartArchive(path)
  return { source: path, kind, ...parseChartYaml(chartYaml, `Chart.yaml in ${path}`), valuesText }
}

/** Chart.yaml and values.yaml of the chart in a .tgz: the ones in its single top-level folder. */
async function readChartArchive(path: string): Promise<{ chartYaml: string; valuesText: string | null }> {
  const found = new Map<string, string>()
  const tops = new Set<string>()
  try {
    await inflateTar(createReadStream(path), CLIENT_ARCHIVE_LIMITS, async (header, stream) => {
      const parts = header.name.replace(/^\.\//, '').split('/').filter((p) => p !== '')
      if (parts.length > 0) tops.add(parts[0] as string)
      const wanted = parts.length === 2 && (parts[1] === 'Chart.yaml' || parts[1] === 'values.yaml') && header.type === 'file'
      if (!wanted) {
        await drain(stream)
        return 'next'
      }
      if ((header.size ?? 0) > MAX_CHART_FILE) throw new Error(`${header.name} is larger than ${MAX_CHART_FILE} bytes`)
      const chunks: Buffer[] = []
      for await (const chunk of stream) chunks.push(chunk as Buffer)
      found.set(parts[1] as string, Buffer.concat(chunks).toString('utf8'))
      return 'next'
    })
  } catch (err) {
    throw new CliError(`${path} is not a readable Helm chart archive (.tgz): ${(err as Error).message}`)
  }
  if (tops.size !== 1) throw new CliError(`${path} is not a Helm chart archive: it must hold one top-level folder (the chart), found ${tops.size}`)
  const chartYaml = found.get('Chart.yaml')
  if (chartYaml === undefined) throw new CliError(`${path} is not a Helm chart archive: it has no Chart.yaml in its top-level folder`)
  return { chartYaml, valuesText: found.get('values.yaml') ?? null }
}

/**
 * Charts lying directly in `dir`: folders with a Chart.yaml, and .tgz files. `charts/` is the
 * pack's own output folder and never counts.
 */
export async function findCharts(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const name of (await readdir(dir)).sort(comparePaths)) {
    if (name === 'charts' || name.startsWith('.')) continue
    const path = join(dir, name)
    const stats = await lstat(path)
    if (stats.isDirectory()) {
      if ((await readSmallFile(join(path, 'Chart.yaml'))) !== null) found.push(path)
    } else if (stats.isFile() && /\.tgz$/i.test(name)) {
      found.push(path)
    }
  }
  return found
}

/** The files of a chart folder, with .git, .DS_Store and .helmignore patterns left out. */
export async function collectChartFiles(dir: string): Promise<ArchiveInput[]> {
  const ignored = packIgnoreMatcher((await readSmallFile(join(dir, HELM_IGNORE))) ?? '')
  const files: ArchiveInput[] = []
  async function walk(absDir: string, relDir: string): Promise<void> {
    for (const name of await readdir(absDir)) {
      const rel = relDir === '' ? name : `${relDir}/${name}`
      if (ALWAYS_LEFT_OUT.has(name)) continue
      const absPath = join(absDir, name)
      const stats = await lstat(absPath)
      if (ignored(rel, stats.isDirectory())) continue
      if (stats.isSymbolicLink()) throw new CliError(`symbolic links are not supported in a chart folder: ${join(dir, rel)}`)
      if (stats.isDirectory()) await walk(absPath, rel)
      else if (stats.isFile()) files.push({ path: rel, size: stats.size, mode: stats.mode, open: () => createReadStream(absPath) })
      else throw new CliError(`only regular files and folders can go in a chart: ${join(dir, rel)}`)
    }
  }
  await walk(dir, '')
  return files.sort((a, b) => comparePaths(a.path, b.path))
}

/** The archive file name the pack uses for a chart, as `helm package` names it. */
export function chartArchiveName(chart: Chart): string {
  return `${chart.name}-${chart.version}.tgz`
}

/** A Kubernetes namespace from a pack name: DNS-1123 label (a-z, 0-9, "-"), at most 63 characters. */
export function namespaceFor(packName: string): string {
  return packName.replace(/[._]/g, '-').slice(0, 63).replace(/-+$/, '')
}

function yamlKey(key: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key)
}

function parseValues(chart: Chart): unknown {
  if (chart.valuesText === null) return null
  try {
    return parseYaml(chart.valuesText)
  } catch (err) {
    throw new CliError(`values.yaml of chart ${chart.name} (${chart.source}) is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
}

/**
 * The pack's values.yaml: `pack.namespace`, then each chart's default values under
 * `charts.<chart>`. The chart's text is indented rather than re-serialised so its comments
 * (which document the values in Palette's editor) survive; if indenting would change what the
 * YAML means (document markers, directives), the values are re-serialised instead.
 */
export function packValuesYaml(packName: string, charts: Chart[]): string {
  let out = `pack:\n  namespace: ${JSON.stringify(namespaceFor(packName))}\n\ncharts:\n`
  for (const chart of charts) {
    const values = parseValues(chart)
    if (values !== null && values !== undefined && !isJsonObject(values)) {
      throw new CliError(`values.yaml of chart ${chart.name} (${chart.source}) must be a mapping of values`)
    }
    const key = `  ${yamlKey(chart.name)}:`
    if (values === null || values === undefined || Object.keys(values).length === 0) {
      out += `${key} {}\n`
      continue
    }
    const text = (chart.valuesText as string).replace(/\r\n?/g, '\n').replace(/\n*$/, '\n')
    const indented = text
      .split('\n')
      .map((line) => (line === '' ? '' : `    ${line}`))
      .join('\n')
    const block = `${key}\n${indented}`
    let faithful = false
    try {
      const reparsed = parseYaml(`x:\n${block}`) as { x?: Record<string, unknown> }
      faithful = isDeepStrictEqual(reparsed.x?.[chart.name], values)
    } catch {
      faithful = false
    }
    out += faithful
      ? block
      : `${key}\n${stringifyYaml(values)
          .replace(/\n$/, '')
          .split('\n')
          .map((line) => `    ${line}`)
          .join('\n')}\n`
  }
  return out
}
