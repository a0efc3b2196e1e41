// Standard output for the packyard command. A terminal (or anything else) gets Node's own
// stream; a pipe, a socket or a file gets plain synchronous writes to descriptor 1. Node's
// stream writes pipes synchronously too, but setting it up loads Node's network stack, which is
// most of what a short command such as `packyard version | cat` costs beyond Node's own
// start-up. If the descriptor turns out to be non-blocking (EAGAIN), the rest goes through
// Node's stream, in order.

import { fstatSync, writeSync } from 'node:fs'

export interface Output {
  write(text: string): unknown
}

const STDOUT = 1

function pipeOrFile(fd: number): boolean {
  try {
    const stats = fstatSync(fd)
    return stats.isFIFO() || stats.isSocket() || stats.isFile()
  } catch {
    return false
  }
}

export function standardOutput(): Output {
  let direct: boolean | undefined
  return {
    write(text: string) {
      direct ??= pipeOrFile(STDOUT)
      if (!direct) return process.stdout.write(text)
      let rest = Buffer.from(text, 'utf8')
      while (rest.length > 0) {
        try {
          rest = rest.subarray(writeSync(STDOUT, rest))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
          direct = false
          return process.stdout.write(rest)
        }
      }
      return true
    },
  }
}
