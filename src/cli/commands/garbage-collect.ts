// packyard garbage-collect [CONFIG]: reclaim blobs nothing refers to, safely while serving.

import { join } from 'node:path'
import { type Config, loadConfig, parseLeaf } from '../../config/load.js'
import { collectGarbage } from '../../maintenance/gc.js'
import { openDatabase } from '../../meta/db.js'
import { FilesystemBlobStore } from '../../store/fs.js'
import { CliError, type Command, parseCommandArgs, parseFlagValue } from '../command.js'
import { formatBytes } from '../progress.js'

export const garbageCollectCommand: Command = {
  usage: `Usage: packyard garbage-collect [CONFIG] [--dry-run] [--grace DURATION]

Removes stored blobs that no pack version or manifest refers to (left by replaced or
deleted packs and abandoned uploads), and temp files of interrupted writes. Safe while
the server runs: only blobs older than the grace period (default 1h) are touched, and
each batch is re-checked inside a database transaction. --dry-run lists what would go.
CONFIG is the server's config (default as for serve).`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { 'dry-run': { type: 'boolean' }, grace: { type: 'string' } }, { min: 0, max: 1 })
    const config = loadConfig({ file: positionals[0], env: io.env })
    const graceMs = values.grace === undefined ? 3_600_000 : parseFlagValue('--grace', values.grace, (v) => parseLeaf('--grace', { kind: 'duration' }, v) as number)
    const { db, store } = await openStorage(config)
    try {
      const report = await collectGarbage(db, store, { dryRun: values['dry-run'] === true, graceMs })
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

/** The server's filesystem storage, opened by an operator command next to a running server. */
export async function openStorage(config: Config) {
  if (config.storage.kind !== 'filesystem') throw new CliError('this registry keeps its data in memory; there is nothing on disk to check or collect')
  const store = new FilesystemBlobStore(config.storage.rootdirectory)
  await store.init()
  const db = openDatabase(join(config.storage.rootdirectory, 'registry.db'))
  return { db, store }
}
