// What every CLI command file exports, and the two failures a command may end with:
// CliError (exit 1, "Error: <message>") and UsageError (exit 2, with the command's usage).

import { parseArgs, type ParseArgsConfig } from 'node:util'

export interface Io {
  stdout: NodeJS.WriteStream | NodeJS.WritableStream
  stderr: NodeJS.WriteStream | NodeJS.WritableStream
  stdin: NodeJS.ReadableStream
  env: NodeJS.ProcessEnv
}

export interface Command {
  /** Words that select it, e.g. ['pack', 'push']. */
  path: string[]
  summary: string
  usage: string
  run(args: string[], io: Io): Promise<void>
}

export class CliError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CliError'
  }
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

/** node:util parseArgs, with its errors turned into UsageErrors. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, positionals: { min: number; max: number }) {
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''))
  }
  const n = parsed.positionals.length
  if (n < positionals.min) throw new UsageError('missing arguments')
  if (n > positionals.max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`)
  return parsed
}

export const helpOption = { help: { type: 'boolean', short: 'h' } } as const
