// packyard fsck [CONFIG]: re-hash every blob and report damage.

import { loadConfig } from '../../config/load.js'
import { checkStore } from '../../maintenance/fsck.js'
import { openOperatorData } from '../operator.js'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { formatBytes } from '../../format.js'

export const fsckCommand: Command = {
  usage: `Usage: packyard fsck [CONFIG]

Reads every blob, checks that its content still hashes to its name, and that every blob
the metadata records is present. On S3 a blob whose SHA-256 checksum S3 recorded (and
verified) when it was written is checked by comparing that checksum instead of reading it;
the summary says how many blobs were checked each way. Lists each damaged or missing blob with the packs and
manifests that use it, and exits 1 when it finds any. Read-only; safe while serving.`,
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, {}, { min: 0, max: 1 })
    const config = loadConfig({ file: positionals[0], env: io.env })
    const data = await openOperatorData(config)
    try {
      const report = await checkStore(data.db, data.store)
      for (const p of report.problems) {
        io.stdout.write(`${p.problem} ${p.digest}: ${p.detail}${p.usedBy.length ? `; used by ${p.usedBy.join(', ')}` : ''}\n`)
      }
      const how = `${report.rehashed} re-hashed, ${report.comparedChecksums} compared with the storage's SHA-256 checksum`
      io.stdout.write(`checked ${report.blobsChecked} blobs (${formatBytes(report.bytesChecked)}; ${how}): ${report.problems.length === 0 ? 'no problems' : `${report.problems.length} problems`}\n`)
      if (report.problems.length > 0) throw new CliError(`${report.problems.length} damaged or missing blobs; re-push the packs listed above`)
    } finally {
      await data.close()
    }
  },
}
