// packyard sync [CONFIG]: mirror the upstream registries of sync.registries into this registry's
// storage, next to a running server (as garbage-collect opens it), with a progress line on a
// terminal and a summary per upstream. Each run and each conflict goes to the event log.

import { BlobIntake } from '../../blobs/intake.js'
import { type Config, loadConfig } from '../../config/load.js'
import type { SyncRegistryConfig } from '../../config/sync.js'
import { formatBytes } from '../../format.js'
import { BlobMeta } from '../../meta/blobs.js'
import type { Database } from '../../meta/database.js'
import { OciMeta } from '../../meta/oci.js'
import { PackMeta } from '../../meta/packs.js'
import { SyncMeta } from '../../meta/sync.js'
import { packServices } from '../../packs/pack-services.js'
import { PackViews } from '../../packs/views.js'
import { YamlChecker } from '../../packs/yaml-checker.js'
import type { BlobStore } from '../../store/types.js'
import { Mirror, type SyncProgress, type SyncReport } from '../../sync/mirror.js'
import { CliError, type Command, type Io, parseCommandArgs } from '../command.js'
import { openOperatorData, operatingSystemUser } from '../operator.js'

/** As the server gives the YAML files of one pack (see app.ts). */
const YAML_CHECK_BUDGET_MS = 1000
const REDRAW_MS = 100

export const syncCommand: Command = {
  usage: `Usage: packyard sync [CONFIG] [--once] [--dry-run] [--registry URL]

Mirrors the packs of the upstream registries in the config's sync.registries into this
registry (safe while the server runs). For each upstream it lists the packs and their
version tags, keeps those the content rules select, and copies each tag not already here:
manifest and blobs byte for byte (digests unchanged, blobs already here not downloaded),
validated as a push is (a refused pack is reported, not stored), parent tags computed here.
A tag pushed here is never overwritten: the conflict is reported and recorded. Tags deleted
upstream stay here. Prints each tag copied, refused, failed or in conflict, then a summary
per upstream; a progress line on a terminal.

--once        run each upstream once and exit (default: then again every pollinterval,
              for the upstreams that have one, until stopped)
--dry-run     say what would be copied; copy and record nothing
--registry    only the upstream with this url (or url/basepath)
CONFIG is the server's config (default as for serve). Exit status 1 when an upstream
could not be read or a tag failed to copy.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { once: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, registry: { type: 'string' } }, { min: 0, max: 1 })
    const config = loadConfig({ file: positionals[0], env: io.env })
    const registries = chosenRegistries(config, values.registry)
    const dryRun = values['dry-run'] === true
    const data = await openOperatorData(config)
    const { mirror, close } = openMirror(config, data.db, data.store)
    const actor = operatingSystemUser()
    try {
      let failed = false
      const runOnce = async (registry: SyncRegistryConfig) => {
        const progress = progressLine(io)
        const report = await mirror.run(registry, { dryRun, actor, onProgress: progress.show, env: io.env })
        progress.end()
        io.stdout.write(reportText(report))
        if (!report.ok) failed = true
      }
      for (const registry of registries) await runOnce(registry)
      const polled = registries.filter((r) => r.pollIntervalMs > 0)
      if (values.once !== true && !dryRun && polled.length > 0) {
        const due = new Map(polled.map((r) => [r, Date.now() + r.pollIntervalMs]))
        for (;;) {
          const [next, at] = [...due.entries()].sort((a, b) => a[1] - b[1])[0] as [SyncRegistryConfig, number]
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())))
          await runOnce(next)
          due.set(next, Date.now() + next.pollIntervalMs)
        }
      }
      if (failed) throw new CliError('some packs could not be mirrored (see above)')
    } finally {
      await close()
      await data.close()
    }
  },
}

function chosenRegistries(config: Config, url: string | undefined): SyncRegistryConfig[] {
  const all = config.sync.registries
  if (all.length === 0) throw new CliError(`${config.source} lists no upstream under sync.registries; see README "Mirroring packs"`)
  if (url === undefined) return all
  const wanted = url.replace(/\/+$/, '')
  const chosen = all.filter((r) => r.url === wanted || `${r.url}/${r.basePath}` === wanted)
  if (chosen.length === 0) throw new CliError(`--registry ${url} is not in sync.registries (${all.map((r) => (r.basePath ? `${r.url}/${r.basePath}` : r.url)).join(', ')})`)
  return chosen
}

/** The mirror over this registry's metadata and blobs, with the server's pack rules. */
export function openMirror(config: Config, db: Database, store: BlobStore): { mirror: Mirror; close: () => Promise<void> } {
  const { limits } = config
  const packMeta = new PackMeta(db)
  const intake = new BlobIntake(store, new BlobMeta(db))
  const yaml = new YamlChecker(YAML_CHECK_BUDGET_MS)
  const archive = {
    maxArchiveBytes: limits.archiveSize,
    maxUnpackedBytes: limits.unpackedSize,
    maxEntries: limits.entries,
    maxExtractedFileBytes: limits.fileSize,
    maxCompressionRatio: limits.maxCompressionRatio,
  }
  const packs = packServices(store, intake, packMeta, new PackViews(packMeta, store, limits.pageSize), { archive, deleteEnabled: config.storage.deleteEnabled, strictValidation: config.packs.strictValidation }, yaml).pushes
  const mirror = new Mirror({ packs, packMeta, ociMeta: new OciMeta(db), intake, store, sync: new SyncMeta(db), manifestSize: limits.manifestSize })
  return { mirror, close: async () => yaml.close() }
}

/** One line per tag that did not simply match the upstream, then the totals. */
export function reportText(r: SyncReport): string {
  const lines: string[] = []
  for (const t of r.tags) {
    if (t.outcome === 'unchanged') continue
    lines.push(`  ${t.outcome.padEnd(10)} ${t.pack}:${t.tag}${t.digest && (t.outcome === 'copied' || t.outcome === 'would copy') ? `  ${t.digest}` : ''}${t.message ? `  ${t.message}` : ''}`)
  }
  if (r.error !== null) lines.push(`  failed     ${r.error}`)
  const packs = `${r.packsCopied} ${r.packsCopied === 1 ? 'pack' : 'packs'} (${r.blobsCopied} ${r.blobsCopied === 1 ? 'blob' : 'blobs'}, ${formatBytes(r.bytesCopied)})`
  const summary = `${r.upstream}: ${r.dryRun ? 'would copy' : 'copied'} ${packs}, ${r.tagsUnchanged} unchanged, ${r.conflicts} in conflict, ${r.refused} refused, ${r.failed} failed`
  return `${[summary, ...lines].join('\n')}\n`
}

/** One line on stderr, redrawn in place at most ten times a second, only on a terminal. */
function progressLine(io: Io): { show: (p: SyncProgress) => void; end: () => void } {
  const terminal = io.stderr as { isTTY?: boolean }
  let drawnAt = Number.NEGATIVE_INFINITY
  let drawn = false
  return {
    show(p) {
      if (terminal.isTTY !== true) return
      const now = performance.now()
      if (now - drawnAt < REDRAW_MS && p.tagsDone !== p.tagsTotal) return
      drawnAt = now
      drawn = true
      io.stderr.write(`\r${p.upstream}: ${p.tagsDone}/${p.tagsTotal} tags, ${p.blobsCopied} blobs, ${formatBytes(p.bytesCopied)}\x1b[K`)
    },
    end() {
      if (drawn) io.stderr.write('\n')
    },
  }
}
