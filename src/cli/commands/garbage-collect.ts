// packyard garbage-collect [CONFIG]: reclaim blobs nothing refers to, safely while serving.

import { type Config, loadConfig, parseLeaf } from '../../config/load.js'
import { collectGarbage, SAFE_GRACE_MS } from '../../maintenance/gc.js'
import { onStorageFull, openDatabase } from '../../meta/db.js'
import { openStorage } from '../../store/index.js'
import { CliError, type Command, parseCommandArgs, parseFlagValue } from '../command.js'
import { operatingSystemUser } from '../operator.js'
import { formatBytes } from '../../format.js'

export const garbageCollectCommand: Command = {
  usage: `Usage: packyard garbage-collect [CONFIG] [--dry-run] [--grace DURATION] [--force]

Removes stored blobs that no pack version or manifest refers to (left by replaced or
deleted packs and abandoned uploads), and temp files of interrupted writes. Safe while
the server runs, whatever the grace period: a blob a request is about to reference is
leased in the database and never removed. The grace period (default 1h) is how long an
uploaded blob may wait for the manifest that references it; under 1m it is refused
unless --force. --dry-run lists what would go. Works on a full disk.
CONFIG is the server's config (default as for serve).`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { 'dry-run': { type: 'boolean' }, grace: { type: 'string' }, force: { type: 'boolean' } }, { min: 0, max: 1 })
    const config = loadConfig({ file: positionals[0], env: io.env })
    const graceMs = values.grace === undefined ? 3_600_000 : parseFlagValue('--grace', values.grace, (v) => parseLeaf('--grace', { kind: 'duration' }, v) as number)
    if (graceMs < SAFE_GRACE_MS && values.force !== true) {
      throw new CliError(
        `--grace ${values.grace} is shorter than 1m: a blob uploaded ahead of its manifest could be removed before the manifest arrives (that push would then fail and be retried). Add --force to collect anyway`,
      )
    }
    const { db, storage } = await openMaintenanceStorage(config)
    try {
      const report = await collectGarbage(db, storage.store, storage.staging, { dryRun: values['dry-run'] === true, graceMs, actor: operatingSystemUser() })
      const verb = values['dry-run'] ? 'would remove' : 'removed'
      if (values['dry-run']) for (const b of report.blobsRemoved) io.stdout.write(`${b.digest} ${formatBytes(b.size)}\n`)
      io.stdout.write(
        `${verb} ${report.blobsRemoved.length} blobs (${formatBytes(report.bytesFreed)}) and ${report.tempFilesRemoved.length} temp files; ${report.blobsKept} blobs in use kept\n`,
      )
    } finally {
      db.close()
    }
  },
}

/** The server's storage, opened by an operator command next to a running server. */
export async function openMaintenanceStorage(config: Config) {
  if (config.storage.kind === 'inmemory') throw new CliError('this registry keeps its data in memory; there is nothing on disk to check or collect')
  const storage = await openStorage(config.storage)
  const db = openDatabase(storage.databaseFile)
  onStorageFull(db, storage.releaseReserve)
  return { db, storage }
}
