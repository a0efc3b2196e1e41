// packyard backup DEST [CONFIG]: an online, consistent copy of the whole registry into a folder.

import { configFileFor, loadConfig } from '../../config/load.js'
import { backupRegistry } from '../../maintenance/backup.js'
import { openOperatorData } from '../operator.js'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { formatBytes } from '../../format.js'

export const backupCommand: Command = {
  usage: `Usage: packyard backup DEST [CONFIG]

Copies the registry into the folder DEST (new or empty, outside the storage root)
while it keeps serving: a snapshot of the metadata (SQLite: registry.db, by SQLite's
online backup; PostgreSQL: metadata.jsonl, a logical export of one snapshot
transaction, with metadata-blobs.txt listing the blobs it needs), then every blob
that snapshot refers to (re-verified as it is copied, and kept from garbage
collection meanwhile), then the users (htpasswd) and the config file. Every push
acknowledged before the snapshot is in the backup. DEST/backup.json, written last,
says what it holds: the metadata's size, sha256, schema version and number of
blobs, which packyard restore checks. Bring it back with packyard restore DEST.
CONFIG is the server's config (default as for serve).`,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, { min: 1, max: 2 })
    const dest = positionals[0] as string
    const configFile = configFileFor(positionals[1])
    const config = loadConfig({ file: configFile, env: io.env })
    const data = await openOperatorData(config)
    try {
      const { manifest, problems } = await backupRegistry(
        { db: data.db, store: data.store, root: config.storage.rootdirectory, htpasswd: config.auth?.htpasswdPath ?? null, configFile },
        dest,
        { onSnapshot: ({ at, blobs }) => void io.stdout.write(`Snapshot of the metadata taken at ${at.toISOString()}; copying ${blobs} blobs\n`) },
      )
      const extras = [manifest.htpasswd && 'the users (htpasswd)', manifest.config && 'the config (config.yml)'].filter(Boolean)
      io.stdout.write(`Copied ${manifest.blobs} blobs (${formatBytes(manifest.bytes)})${extras.length ? ` and ${extras.join(' and ')}` : ''} to ${dest}\n`)
      for (const p of problems) io.stdout.write(`not copied ${p.digest}: ${p.detail}\n`)
      if (problems.length > 0) {
        throw new CliError(`${problems.length} blobs the snapshot refers to could not be copied (listed above), so the backup is incomplete; run packyard fsck on the registry`)
      }
      io.stdout.write(`Backup complete: ${dest}\n`)
    } finally {
      await data.close()
    }
  },
}
