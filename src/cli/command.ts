// What every CLI command file exports, how the router knows a command before loading it, and
// the two failures a command may end with: CliError (exit 1, "Error: <message>") and UsageError
// (exit 2, with the command's usage). Also the argument parser every command uses: node's
// parseArgs with the global flags (-s/--home, -h/--help) accepted everywhere, as cobra's
// persistent flags are, and its complaints turned into lowercase usage errors that suggest the
// nearest valid option.

import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { Output } from './stdout.js'
import { closest } from '../nearest.js'

export interface Io {
  /** Commands only write text to it (stdout.ts, or a stream). */
  stdout: Output
  stderr: NodeJS.WriteStream | NodeJS.WritableStream
  stdin: NodeJS.ReadableStream
  env: NodeJS.ProcessEnv
}

/** A command file's export: its usage text and what it does. */
export interface Command {
  usage: string
  run(args: string[], io: Io): Promise<void>
}

/**
 * What the router knows of a command without loading its file: the words that select it, its
 * one-line summary, and how to load the rest. Loading on demand keeps `packyard version` or
 * `pack push` from paying for the server's modules.
 */
export interface CommandEntry {
  /** Words that select it, e.g. ['pack', 'push']. */
  path: string[]
  summary: string
  /**
   * A server or operator command: it needs the server's modules (Fastify, SQLite, the stores),
   * so the single-file client leaves it out.
   */
  operator?: true
  load: () => Command
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

/** Accepted by every command, before or after its words: `packyard -s DIR pack push ...`. */
const GLOBAL_OPTIONS = {
  home: { type: 'string', short: 's' },
  help: { type: 'boolean', short: 'h' },
} as const

/** node:util parseArgs with the global flags added, its errors turned into UsageErrors. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, positionals: { min: number; max: number }) {
  const all = { ...GLOBAL_OPTIONS, ...options }
  let parsed
  try {
    // Nothing to parse (and no defaults to fill in): parseArgs's first call alone costs a
    // command like `version` a few milliseconds of its start-up.
    const parse = () => parseArgs({ args, options: all, allowPositionals: true, strict: true })
    const nothing = args.length === 0 && !Object.values(all).some((option) => 'default' in option)
    parsed = nothing ? ({ values: {}, positionals: [] } as unknown as ReturnType<typeof parse>) : parse()
  } catch (err) {
    throw new UsageError(parseArgsProblem(err as Error & { code?: string }, all))
  }
  const n = parsed.positionals.length
  if (n < positionals.min) throw new UsageError('missing arguments')
  if (n > positionals.max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`)
  return parsed
}

/** A flag's value checked by `parse`; whatever it rejects becomes a usage error naming the flag. */
export function parseFlagValue<T>(flag: string, value: string, parse: (value: string) => T): T {
  try {
    return parse(value)
  } catch (err) {
    const reason = (err as { reason?: unknown }).reason
    throw new UsageError(`${flag} ${typeof reason === 'string' ? reason : lowerFirst((err as Error).message)}`)
  }
}

function parseArgsProblem(err: Error & { code?: string }, options: Options): string {
  const unknown = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(err.message)?.[1] : undefined
  if (unknown !== undefined) {
    const longs = Object.keys(options).map((name) => `--${name}`)
    const nearest = unknown.startsWith('--') ? closest(unknown, longs) : undefined
    return `unknown option ${JSON.stringify(unknown)}${nearest ? `; did you mean ${JSON.stringify(nearest)}?` : ''}`
  }
  // node's own wording ("Option '-m, --message <value>' argument missing"), without its advice
  // about positionals, which rarely applies to a typo.
  return lowerFirst(err.message.replace(/\. To specify a positional argument.*$/s, ''))
}

function lowerFirst(message: string): string {
  return message.charAt(0).toLowerCase() + message.slice(1)
}
