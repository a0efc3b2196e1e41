// packyard version: the version, OS and architecture, like `spectro version`, then the commit it
// was built from (the registry's log and pack browser show theirs, to compare).

import { buildCommit, VERSION } from '../../version.js'
import { type Command, parseCommandArgs } from '../command.js'

export const versionCommand: Command = {
  usage: 'Usage: packyard version',
  async run(args, io) {
    parseCommandArgs(args, {}, { min: 0, max: 0 })
    io.stdout.write(`Packyard CLI Version ${VERSION} ${process.platform}/${goArch(process.arch)} (commit ${buildCommit()})\n`)
  },
}

/** Spectro prints Go's names (linux/amd64); keep the same so scripts parsing it still work. */
function goArch(arch: string): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch
}
