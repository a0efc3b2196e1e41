// packyard garbage-collect [CONFIG]: reclaim blobs nothing refers to, safely while serving, and
// say what it removed and what it keeps in the registry page's words.

import { parseLeaf } from '../../config/leaf.js'
import { loadConfig } from '../../config/load.js'
import { amountText, DEFAULT_GRACE_MS, instantText, summaryLines } from '../../maintenance/garbage.js'
import { collectGarbage, type GcReport, SAFE_GRACE_MS } from '../../maintenance/gc.js'
import { CliError, type Command, parseCommandArgs, parseFlagValue } from '../command.js'
import { openOperatorData, operatingSystemUser } from '../operator.js'
import { formatBytes } from '../../format.js'

export const garbageCollectCommand: Command = {
  usage: `Usage: packyard garbage-collect [CONFIG] [--dry-run] [--grace DURATION] [--force]

Removes stored blobs that no pack version or manifest refers to (left by replaced or
deleted packs, abandoned uploads and failed pushes), and temp files of interrupted
writes idle for an hour. Safe while the server runs, whatever the grace period: a blob
a push in progress is about to reference is never removed. The grace period (default
1h) is how long an uploaded blob may wait for the manifest that references it,
counted from when the registry last accepted its bytes; under 1m it is refused unless
--force.

Prints each blob it removes (digest, size, when its bytes were last accepted), then
the totals: what it removed, the unreferenced blobs still within the grace period and
when the first becomes removable, those held by pushes in progress, and the blobs in
use. The registry page shows the same figures for the default grace period.
--dry-run prints the same and removes nothing. Works on a full disk.
CONFIG is the server's config (default as for serve).`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { 'dry-run': { type: 'boolean' }, grace: { type: 'string' }, force: { type: 'boolean' } }, { min: 0, max: 1 })
    const config = loadConfig({ file: positionals[0], env: io.env })
    const graceMs = values.grace === undefined ? DEFAULT_GRACE_MS : parseFlagValue('--grace', values.grace, (v) => parseLeaf('--grace', { kind: 'duration' }, v) as number)
    if (graceMs < SAFE_GRACE_MS && values.force !== true) {
      throw new CliError(
        `--grace ${values.grace} is shorter than 1m: a blob uploaded ahead of its manifest could be removed before the manifest arrives (that push would then fail and be retried). Add --force to collect anyway`,
      )
    }
    const dryRun = values['dry-run'] === true
    const data = await openOperatorData(config)
    try {
      const report = await collectGarbage(data.db, data.store, data.staging, { dryRun, graceMs, actor: operatingSystemUser() })
      io.stdout.write(reportText(report, dryRun))
    } finally {
      await data.close()
    }
  },
}

/** One line per blob removed, then the totals in the words of the registry page. */
export function reportText(report: GcReport, dryRun: boolean): string {
  const lines = report.blobsRemoved.map((b) =>
    b.recorded ? `${b.digest}  ${formatBytes(b.size)}  last accepted ${instantText(b.since)}` : `${b.digest}  ${formatBytes(b.size)}  stored ${instantText(b.since)}, no record in the metadata`,
  )
  const [removed, ...kept] = summaryLines(report.garbage, dryRun ? 'would remove' : 'removed')
  lines.push(removed as string, ...kept)
  if (report.unrecorded.blobs > 0) {
    lines.push(`stored without a record in the metadata (a failed or unfinished push), counted above but not on the registry page: ${amountText(report.unrecorded)}`)
  }
  lines.push(`temp files of interrupted writes: ${dryRun ? 'would remove' : 'removed'} ${report.tempFilesRemoved.length}`)
  lines.push(`in use (a pack version or manifest refers to them): ${report.blobsKept} ${report.blobsKept === 1 ? 'blob' : 'blobs'}`)
  return `${lines.join('\n')}\n`
}
