// packyard pack build NAME DIR: turns a Helm chart into a pack in DIR, like `spectro pack
// build`: charts/<chart>-<version>.tgz, pack.json and values.yaml (plus README.md from the
// chart's description when there is none), then optionally pushes it (-p).

import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { isRegistryError } from '../../errors.js'
import { writeReproducibleArchive } from '../../packs/archive-write.js'
import { validatePackName } from '../../packs/names.js'
import { versionTagFor } from '../../packs/tags.js'
import { CliError, type Command, parseCommandArgs, UsageError } from '../command.js'
import { registryOption } from '../client-config.js'
import { type Chart, chartArchiveName, collectChartFiles, findCharts, packValuesYaml, readChart } from '../helm-chart.js'
import { connect, type RegistryClient } from '../http-client.js'
import { readLocalPack } from '../local-pack.js'
import { pushPack } from './pack-push.js'
import { unlessMissing, writeFileAtomic } from '../../files.js'

/**
 * Palette groups add-ons by addonType. Helm charts carry nothing that maps onto Palette's
 * categories reliably, so every built pack starts as the generic "system app"; edit pack.json
 * to pick another (e.g. monitoring, logging, ingress, security).
 */
export const DEFAULT_ADDON_TYPE = 'system app'

/** What the files pack build writes get: the pack author's to edit, everyone's to read. */
const FILE_MODE = 0o644

async function exists(path: string): Promise<boolean> {
  return (await unlessMissing(lstat(path))) !== null
}

async function writeChart(chart: Chart, destination: string): Promise<void> {
  if (resolve(chart.source) === resolve(destination)) return
  // Whole or not at all (temp file, rename), so a failed build never leaves half a file.
  const archive = chart.kind === 'tgz' ? await readFile(chart.source) : await buffer(writeReproducibleArchive(chart.name, await collectChartFiles(chart.source)))
  await writeFileAtomic(destination, archive, FILE_MODE)
}

/**
 * Chart sources kept inside DIR (say DIR/mychart/) would otherwise be pushed as part of the
 * pack next to their archive; list them in DIR/.packignore. Sources under charts/ stay: a pack
 * may ship unpacked charts there on purpose.
 */
async function ignoreSources(dir: string, charts: Chart[]): Promise<string[]> {
  const lines: string[] = []
  for (const chart of charts) {
    const rel = relative(resolve(dir), resolve(chart.source))
    if (rel === '' || rel.startsWith('..') || rel.startsWith(`charts${sep}`) || isAbsolute(rel)) continue
    lines.push(`/${rel.split(sep).join('/')}${chart.kind === 'folder' ? '/' : ''}`)
  }
  if (lines.length === 0) return []
  const path = join(dir, '.packignore')
  const current = (await unlessMissing(readFile(path, 'utf8'))) ?? ''
  const present = new Set(current.split(/\r?\n/).map((l) => l.trim()))
  const missing = lines.filter((l) => !present.has(l))
  if (missing.length > 0) {
    const prefix = current === '' || current.endsWith('\n') ? current : `${current}\n`
    await writeFile(path, `${prefix}${current === '' ? '# Chart sources used by packyard pack build; the pack ships charts/*.tgz.\n' : ''}${missing.join('\n')}\n`)
  }
  return missing
}

export const packBuildCommand: Command = {
  usage: `Usage: packyard pack build PACK_NAME TARGET_DIR [flags]

Generates a pack in TARGET_DIR from a Helm chart: a chart folder or a chart .tgz lying
in TARGET_DIR, or given with --chart (repeat it for a pack with several charts).
Writes:
  charts/<chart>-<version>.tgz  the chart (a .tgz is copied as is; a folder is archived
                                reproducibly, honouring its .helmignore)
  pack.json                     name, displayName (PACK_NAME), version (the chart's, or
                                --version), layer "addon", addonType "system app" (edit
                                it to monitoring, logging, ...), cloudTypes ["all"], charts
  values.yaml                   pack.namespace (PACK_NAME as a namespace) and the chart's
                                default values, comments kept, under charts.<chart>
  README.md                     the chart's description, unless a README.md exists
Chart sources inside TARGET_DIR are added to its .packignore so they are not pushed twice.
An existing pack.json or values.yaml is only replaced with --force.

Flags:
      --chart PATH              a chart folder or .tgz (default: those in TARGET_DIR)
      --version VERSION         the pack version (default: the chart's version)
      --force                   replace an existing pack.json and values.yaml
  -p, --push                    push the pack once it is built
  -r, --registry-server SERVER  with --push: the registry (default: the default registry)

Examples:
  helm pull oci://registry-1.docker.io/bitnamicharts/nginx --destination ./nginx-pack
  packyard pack build nginx ./nginx-pack
  packyard pack build my-awesome-pack ./my-awesome-pack --chart ./charts-src/awesome -p`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...registryOption,
        chart: { type: 'string', multiple: true },
        version: { type: 'string' },
        force: { type: 'boolean' },
        push: { type: 'boolean', short: 'p' },
      },
      { min: 2, max: 2 },
    )
    const name = positionals[0] as string
    const dir = positionals[1] as string
    try {
      validatePackName(name)
      if (values.version !== undefined) versionTagFor(null, values.version)
    } catch (err) {
      throw isRegistryError(err) ? new UsageError(err.message.replace(/^pack\.json: version/, '--version')) : err
    }
    if (values['registry-server'] !== undefined && !values.push) throw new UsageError('--registry-server only applies with --push')

    if (await exists(dir)) {
      if (!(await lstat(dir)).isDirectory()) throw new CliError(`${dir} is not a folder`)
      if (await exists(join(dir, 'Chart.yaml'))) {
        throw new CliError(`${dir} is itself a Helm chart; build the pack in another folder: packyard pack build ${name} ${name}-pack --chart ${dir}`)
      }
    }
    if (!values.force) {
      for (const file of ['pack.json', 'values.yaml']) {
        if (await exists(join(dir, file))) throw new CliError(`${join(dir, file)} already exists; pass --force to replace it`)
      }
    }
    const sources = values.chart ?? ((await exists(dir)) ? await findCharts(dir) : [])
    if (sources.length === 0) {
      throw new CliError(`no Helm chart found in ${dir}: put a chart folder or a chart .tgz there, or pass --chart PATH`)
    }
    const charts: Chart[] = []
    for (const source of sources) {
      const chart = await readChart(source)
      const twin = charts.find((c) => c.name === chart.name)
      if (twin) throw new CliError(`two charts named ${chart.name}: ${twin.source} and ${chart.source}; keep one`)
      charts.push(chart)
    }
    const first = charts[0] as Chart
    if (values.version === undefined && charts.length > 1) {
      throw new CliError(`several charts (${charts.map((c) => c.name).join(', ')}) give several versions; pass --version for the pack`)
    }
    const version = values.version ?? first.version
    try {
      versionTagFor(null, version)
    } catch (err) {
      throw isRegistryError(err) ? new CliError(`the chart version cannot be the pack version: ${err.message.replace(/^pack\.json: /, '')}; pass --version`) : err
    }
    const valuesYaml = packValuesYaml(name, charts)
    // Before writing anything: a push that cannot happen should not leave a half-done build.
    const client: RegistryClient | undefined = values.push ? await connect({ home: values.home, server: values['registry-server'] }, io) : undefined

    await mkdir(join(dir, 'charts'), { recursive: true })
    const chartPaths: string[] = []
    for (const chart of charts) {
      const path = `charts/${chartArchiveName(chart)}`
      try {
        await writeChart(chart, join(dir, path))
      } catch (err) {
        throw err instanceof CliError ? err : new CliError(`cannot write ${join(dir, path)}: ${(err as Error).message}`)
      }
      chartPaths.push(path)
    }
    const packJson = {
      name,
      displayName: name,
      version,
      layer: 'addon',
      addonType: DEFAULT_ADDON_TYPE,
      cloudTypes: ['all'],
      charts: chartPaths,
    }
    await writeFileAtomic(join(dir, 'pack.json'), `${JSON.stringify(packJson, null, 2)}\n`, FILE_MODE)
    await writeFileAtomic(join(dir, 'values.yaml'), valuesYaml, FILE_MODE)
    const written = [...chartPaths, 'pack.json', 'values.yaml']
    const descriptions = charts.filter((c) => c.description !== undefined)
    if (descriptions.length > 0 && !(await exists(join(dir, 'README.md')))) {
      const text = `# ${name}\n\n${descriptions.map((c) => (charts.length > 1 ? `${c.name}: ${c.description}` : c.description)).join('\n\n')}\n`
      await writeFile(join(dir, 'README.md'), text, { flag: 'wx' })
      written.push('README.md')
    }
    const ignored = await ignoreSources(dir, charts)
    if (ignored.length > 0) written.push('.packignore')

    // The same validation push applies: a build that could not be pushed is a failed build.
    const pack = await readLocalPack(dir)
    io.stdout.write(`Built pack ${name}:${pack.tag} in ${dir}: ${written.join(', ')}\n`)
    if (client !== undefined) await pushPack(pack, client, { force: false, message: undefined, skipDigestCheck: false, strict: false, json: false }, io)
  },
}
