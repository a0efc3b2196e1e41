// packyard restore SRC [CONFIG]: a backup made by packyard backup, checked, into an empty root,
// then fsck.

import { basename } from 'node:path'
import { configFileFor, loadConfig } from '../../config/load.js'
import { assertEmptyRoot, BackupError, checkRestoreEngine, removeEmptyLayout, restoreRegistry, verifyBackup } from '../../maintenance/backup.js'
import { openRegistryData, type RegistryData } from '../../registry-data.js'
import { openStorage } from '../../store/index.js'
import { databaseLockFile, rootLayout } from '../../store/layout.js'
import { type HeldLock, lockDatabase, lockRoot } from '../../store/root-lock.js'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { formatBytes } from '../../format.js'

export const restoreCommand: Command = {
  usage: `Usage: packyard restore SRC [CONFIG]

Restores the backup in the folder SRC (made by packyard backup) into the storage of
CONFIG (default as for serve), which must be empty, and its metadata: SQLite, or
with database.url an empty PostgreSQL database. A backup restores into the engine
it was made from (a SQLite one into SQLite, then packyard migrate-metadata moves it
to PostgreSQL). First the backup is checked without writing anything: the metadata
(registry.db, or metadata.jsonl with its blob list) must be what backup.json
describes (size, sha256, schema version, number of blobs), a SQLite snapshot whole
by SQLite's integrity check, of a schema this Packyard knows, with every blob it
refers to in the backup; otherwise restore refuses, naming each problem. Then the
blobs (each verified as it is written: a damaged one is named, and what was copied
removed again), the metadata (PostgreSQL: loaded in one transaction, refused when a
table already has rows), and the users (to the config's htpasswd file, unless one is
already there). Then checks every blob as packyard fsck does. No server may run on
that root or database meanwhile (restore holds their locks). The backup's config
file is not installed: compare SRC/config.yml with yours.`,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, { min: 1, max: 2 })
    const src = positionals[0] as string
    const config = loadConfig({ file: configFileFor(positionals[1]), env: io.env })
    if (config.storage.kind === 'inmemory') throw new CliError('the config keeps the registry in memory; restore into storage on disk')
    const root = config.storage.rootdirectory
    const backup = await verifyBackup(src)
    checkRestoreEngine(backup, config.database.kind)
    const { manifest } = backup
    // Lock files alone are not data: the lock tells a live holder (refused) from a stale one.
    const lockNames = [basename(rootLayout(root).lock), basename(databaseLockFile(config.storage.databasePath))]
    await assertEmptyRoot(root, lockNames)
    const lock = await lockRoot(root, { purpose: 'restore' })
    let dbLock: HeldLock | null = null
    let data: RegistryData | null = null
    try {
      // With PostgreSQL there is no database file to lock (as the server): the root's lock and an empty database suffice.
      if (config.database.kind === 'sqlite') dbLock = await lockDatabase(config.storage.databasePath, { purpose: 'restore' })
      await assertEmptyRoot(root, lockNames)
      // PostgreSQL: storage and metadata open as the server opens them (the database's schema is
      // created; it must hold no rows). SQLite: the storage only, the file is copied in last.
      data = config.database.kind === 'postgres' ? await openRegistryData(config) : null
      const storage = data?.storage ?? (await openStorage(config.storage))
      const report = await restoreRegistry(backup, { storage, db: data?.db ?? null, htpasswd: config.auth?.htpasswdPath ?? null }).catch(async (err: unknown) => {
        if (err instanceof BackupError) {
          await removeEmptyLayout(root)
          throw err
        }
        throw new CliError(`${(err as Error).message}; ${root} now holds part of the backup: empty it before trying again`)
      })
      io.stdout.write(`Restored ${report.blobs} blobs (${formatBytes(report.bytes)}) and the metadata (snapshot of ${manifest.snapshotAt}) into ${root}\n`)
      if (report.users && 'restoredTo' in report.users) io.stdout.write(`Restored the users to ${report.users.restoredTo}\n`)
      if (report.users && 'kept' in report.users) io.stdout.write(`Kept the users already in ${report.users.kept} (the backup's are in ${src}/${manifest.htpasswd})\n`)
      const { fsck } = report
      for (const p of fsck.problems) io.stdout.write(`${p.problem} ${p.digest}: ${p.detail}${p.usedBy.length ? `; used by ${p.usedBy.join(', ')}` : ''}\n`)
      io.stdout.write(`fsck: checked ${fsck.blobsChecked} blobs (${formatBytes(fsck.bytesChecked)}): ${fsck.problems.length === 0 ? 'no problems' : `${fsck.problems.length} problems`}\n`)
      if (fsck.problems.length > 0) throw new CliError(`the restored registry has ${fsck.problems.length} damaged or missing blobs (listed above)`)
    } finally {
      await data?.close()
      await dbLock?.release()
      await lock.release()
    }
  },
}
