// The `packyard` command router: finds the command by its words, runs it, and turns failures
// into the exit codes scripts rely on: 0 ok, 1 `Error: <message>` on stderr, 2 usage errors.

import { CliError, type Command, type Io, UsageError } from './command.js'
import { packBuildCommand } from './commands/pack-build.js'
import { packDeleteCommand } from './commands/pack-delete.js'
import { packLsCommand } from './commands/pack-ls.js'
import { packPullCommand } from './commands/pack-pull.js'
import { packPushCommand } from './commands/pack-push.js'
import { packTagAddCommand } from './commands/pack-tag-add.js'
import { packTagDeleteCommand } from './commands/pack-tag-delete.js'
import { registryLoginCommand } from './commands/registry-login.js'
import { registryLogoutCommand } from './commands/registry-logout.js'
import { fsckCommand } from './commands/fsck.js'
import { garbageCollectCommand } from './commands/garbage-collect.js'
import { serveCommand } from './commands/serve.js'
import { userAddCommand } from './commands/user-add.js'
import { versionCommand } from './commands/version.js'

export const COMMANDS: Command[] = [
  serveCommand,
  userAddCommand,
  garbageCollectCommand,
  fsckCommand,
  versionCommand,
  registryLoginCommand,
  registryLogoutCommand,
  packBuildCommand,
  packPushCommand,
  packLsCommand,
  packPullCommand,
  packTagAddCommand,
  packTagDeleteCommand,
  packDeleteCommand,
]

const GLOBAL_HELP = () => `Packyard: a pack registry for Spectro Cloud Palette, and its client.

Usage: packyard COMMAND [ARGS] [FLAGS]

Commands:
${COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(22)}${c.summary}`).join('\n')}

Run 'packyard COMMAND --help' for a command's arguments and flags.
`

function findCommand(args: string[]): { command: Command; rest: string[] } | null {
  let best: { command: Command; rest: string[] } | null = null
  for (const command of COMMANDS) {
    const n = command.path.length
    if (args.length >= n && command.path.every((w, i) => args[i] === w)) {
      if (!best || n > best.command.path.length) best = { command, rest: args.slice(n) }
    }
  }
  return best
}

export async function runCli(args: string[], io: Io): Promise<number> {
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    io.stdout.write(GLOBAL_HELP())
    return args.length === 0 ? 2 : 0
  }
  const found = findCommand(args)
  if (!found) {
    const group = COMMANDS.filter((c) => c.path[0] === args[0])
    if (group.length > 0) {
      io.stderr.write(`Error: unknown command "${args.slice(0, 2).join(' ')}"\n\nCommands:\n${group.map((c) => `  packyard ${c.path.join(' ').padEnd(20)}${c.summary}`).join('\n')}\n`)
    } else {
      io.stderr.write(`Error: unknown command "${args[0]}"\n\n${GLOBAL_HELP()}`)
    }
    return 2
  }
  const { command, rest } = found
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.summary}\n\n${command.usage}\n`)
    return 0
  }
  try {
    await command.run(rest, io)
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`Error: ${err.message}\n\n${command.usage}\n`)
      return 2
    }
    if (err instanceof CliError) {
      io.stderr.write(`Error: ${err.message}\n`)
      return 1
    }
    const e = err as Error & { code?: string; key?: string }
    io.stderr.write(`Error: ${e.message ?? String(err)}\n`)
    return 1
  }
}

export function main(args: string[]): void {
  const io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }
  runCli(args, io).then(
    (code) => {
      process.exitCode = code
      // A server that failed to start may still hold handles open; nothing else is running.
      if (code !== 0 && args[0] === 'serve') process.exit(code)
    },
    (err: unknown) => {
      process.stderr.write(`Error: ${String(err)}\n`)
      process.exit(1)
    },
  )
}
