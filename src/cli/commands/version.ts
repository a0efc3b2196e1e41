// packyard version: the version, OS and architecture, like `spectro version`.

import { VERSION } from '../../version.js'
import { type Command, parseCommandArgs } from '../command.js'

export const versionCommand: Command = {
  usage: 'Usage: packyard version',
  async run(args, io) {
    parseCommandArgs(args, {}, { min: 0, max: 0 })
    io.stdout.write(`Packyard CLI Version ${VERSION} ${process.platform}/${goArch(process.arch)}\n`)
  },
}

/** Spectro prints Go's names (linux/amd64); keep the same so scripts parsing it still work. */
function goArch(arch: string): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch
}
