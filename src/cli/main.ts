// The `packyard` command router. It finds the command by its words wherever the global flags
// (-s/--home, -h/--help) stand, as cobra does for the spectro CLI, loads only that command's
// file (so a client command never loads the server), runs it, and turns failures into the exit
// codes scripts rely on: 0 ok, 1 `Error: <message>` on stderr, 2 usage errors, which suggest
// the nearest valid command or option. The single-file client (npm run build:client) runs the
// same router without the server and operator commands: they answer with one line saying where
// to run them.

import { closest, editDistance } from '../nearest.js'
import { CliError, type Command, type CommandEntry, type Io, UsageError } from './command.js'
import { standardOutput } from './stdout.js'

// require(), not import(): in this CommonJS build import() goes through Node's ESM loader, which
// alone costs more start-up time than the whole of `packyard version`.
export const COMMANDS: CommandEntry[] = [
  { path: ['serve'], operator: true, summary: 'Run the registry server', load: () => (require('./commands/serve.js') as typeof import('./commands/serve.js')).serveCommand },
  { path: ['user', 'add'], operator: true, summary: 'Add a user to the htpasswd file, or change its password', load: () => (require('./commands/user-add.js') as typeof import('./commands/user-add.js')).userAddCommand },
  { path: ['user', 'ls'], operator: true, summary: 'List the users and what each may do', load: () => (require('./commands/user-ls.js') as typeof import('./commands/user-ls.js')).userLsCommand },
  { path: ['user', 'delete'], operator: true, summary: 'Remove a user from the htpasswd file', load: () => (require('./commands/user-delete.js') as typeof import('./commands/user-delete.js')).userDeleteCommand },
  { path: ['garbage-collect'], operator: true, summary: 'Remove blobs and temp files nothing refers to', load: () => (require('./commands/garbage-collect.js') as typeof import('./commands/garbage-collect.js')).garbageCollectCommand },
  { path: ['sync'], operator: true, summary: 'Mirror packs from the upstream registries of sync.registries', load: () => (require('./commands/sync.js') as typeof import('./commands/sync.js')).syncCommand },
  { path: ['fsck'], operator: true, summary: 'Re-hash every stored blob and report damage', load: () => (require('./commands/fsck.js') as typeof import('./commands/fsck.js')).fsckCommand },
  { path: ['events'], summary: 'Show the audit trail: pushes, tag changes, deletes, collections, lockouts', load: () => (require('./commands/events.js') as typeof import('./commands/events.js')).eventsCommand },
  { path: ['notifications', 'ls'], summary: 'Show each notification endpoint\'s delivery state', load: () => (require('./commands/notifications-ls.js') as typeof import('./commands/notifications-ls.js')).notificationsLsCommand },
  { path: ['notifications', 'retry'], summary: 'Send what is pending for a notification endpoint now', load: () => (require('./commands/notifications-retry.js') as typeof import('./commands/notifications-retry.js')).notificationsRetryCommand },
  { path: ['healthcheck'], summary: 'Check that the configured registry answers /health (the image\'s HEALTHCHECK)', load: () => (require('./commands/healthcheck.js') as typeof import('./commands/healthcheck.js')).healthcheckCommand },
  { path: ['backup'], operator: true, summary: 'Copy the whole registry into a folder while it serves', load: () => (require('./commands/backup.js') as typeof import('./commands/backup.js')).backupCommand },
  { path: ['restore'], operator: true, summary: 'Restore a backup into an empty root, then check it', load: () => (require('./commands/restore.js') as typeof import('./commands/restore.js')).restoreCommand },
  { path: ['migrate-metadata'], operator: true, summary: 'Move the metadata from SQLite into an empty PostgreSQL database, and verify it', load: () => (require('./commands/migrate-metadata.js') as typeof import('./commands/migrate-metadata.js')).migrateMetadataCommand },
  { path: ['version'], summary: 'Print the version', load: () => (require('./commands/version.js') as typeof import('./commands/version.js')).versionCommand },
  { path: ['registry', 'login'], summary: 'Log in to a pack registry and save the login', load: () => (require('./commands/registry-login.js') as typeof import('./commands/registry-login.js')).registryLoginCommand },
  { path: ['registry', 'logout'], summary: 'Remove a saved registry login', load: () => (require('./commands/registry-logout.js') as typeof import('./commands/registry-logout.js')).registryLogoutCommand },
  { path: ['pack', 'build'], summary: 'Make a pack from a Helm chart', load: () => (require('./commands/pack-build.js') as typeof import('./commands/pack-build.js')).packBuildCommand },
  { path: ['pack', 'push'], summary: 'Upload a pack folder to the registry', load: () => (require('./commands/pack-push.js') as typeof import('./commands/pack-push.js')).packPushCommand },
  { path: ['pack', 'ls'], summary: 'List the packs and their tags', load: () => (require('./commands/pack-ls.js') as typeof import('./commands/pack-ls.js')).packLsCommand },
  { path: ['pack', 'pull'], summary: 'Download a pack into a folder', load: () => (require('./commands/pack-pull.js') as typeof import('./commands/pack-pull.js')).packPullCommand },
  { path: ['pack', 'tag', 'add'], summary: 'Add a tag to a pack version', load: () => (require('./commands/pack-tag-add.js') as typeof import('./commands/pack-tag-add.js')).packTagAddCommand },
  { path: ['pack', 'tag', 'delete'], summary: 'Remove a tag from a pack', load: () => (require('./commands/pack-tag-delete.js') as typeof import('./commands/pack-tag-delete.js')).packTagDeleteCommand },
  { path: ['pack', 'delete'], summary: 'Delete a pack version and all its tags', load: () => (require('./commands/pack-delete.js') as typeof import('./commands/pack-delete.js')).packDeleteCommand },
]

/** Words that only group commands, with what the group is for. */
const GROUPS: Record<string, string> = {
  notifications: 'See and retry the delivery of notifications to their endpoints',
  pack: 'Build, push, list, pull, tag and delete packs',
  'pack tag': 'Add and remove tags of pack versions',
  registry: 'Log in to and out of pack registries',
  user: 'Manage the users of the htpasswd file',
}

const GLOBAL_FLAGS = `Global flags (before or after the command words):
  -s, --home DIR   client home folder (default: $HOME/.spectro)
  -h, --help       help for packyard or for a command`

function commandList(entries: CommandEntry[], prefix: string[]): string {
  const names = entries.map((c) => c.path.slice(prefix.length).join(' '))
  const width = Math.max(...names.map((n) => n.length)) + 2
  return entries.map((c, i) => `  ${(names[i] as string).padEnd(width)}${c.summary}`).join('\n')
}

export interface RouterOptions {
  /** The single-file client: the server and operator commands are not in it. */
  clientOnly?: boolean
}

/** The one line a server or operator command gets from the single-file client. */
function serverCommandMessage(words: string[]): string {
  return `packyard ${words.join(' ')} is a server command, which this single-file client does not carry; run the server from the Docker image or the npm package (npm install -g packyard)`
}

function available(options: RouterOptions): CommandEntry[] {
  return options.clientOnly ? COMMANDS.filter((c) => !c.operator) : COMMANDS
}

function globalHelp(options: RouterOptions): string {
  const elsewhere = options.clientOnly
    ? `\nThe server and operator commands (${[...new Set(COMMANDS.filter((c) => c.operator).map((c) => c.path[0]))].join(', ')}) run from the Docker image or the npm package.\n`
    : ''
  return `Packyard: a pack registry for Spectro Cloud Palette, and its client.

Usage: packyard COMMAND [ARGS] [FLAGS]

Commands:
${commandList(available(options), [])}
${elsewhere}
${GLOBAL_FLAGS}
      --version    print the version

Run 'packyard COMMAND --help' for a command's arguments and flags.
`
}

function groupHelp(group: string[], options: RouterOptions): string {
  const name = group.join(' ')
  return `${GROUPS[name]}

Usage: packyard ${name} COMMAND [ARGS] [FLAGS]

Commands:
${commandList(inGroup(group).filter((c) => available(options).includes(c)), group)}

${GLOBAL_FLAGS}

Run 'packyard ${name} COMMAND --help' for a command's arguments and flags.
`
}

function commandHelp(entry: CommandEntry, command: Command): string {
  return `${entry.summary}\n\n${command.usage}\n\n${GLOBAL_FLAGS}\n`
}

function inGroup(group: string[]): CommandEntry[] {
  return COMMANDS.filter((c) => c.path.length > group.length && group.every((w, i) => c.path[i] === w))
}

interface CommandLine {
  /** The leading words (not flags), where the command's path is looked for. */
  words: string[]
  /** Where each word stands in the arguments. */
  at: number[]
  help: boolean
  version: boolean
  /** A flag other than the global ones, met before any word. */
  strayFlag: string | undefined
}

/**
 * Reads the words that may name a command, stepping over the global flags (and the value of
 * -s/--home) wherever they stand, and notes -h/--help. The words end at the first other flag
 * or at `--`: what follows belongs to the command.
 */
function readCommandLine(args: string[]): CommandLine {
  const line: CommandLine = { words: [], at: [], help: false, version: false, strayFlag: undefined }
  let wordsEnded = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') break
    if (arg === '-h' || arg === '--help') line.help = true
    else if (arg === '-s' || arg === '--home') i++
    else if (arg.startsWith('--home=') || (arg.startsWith('-s') && !arg.startsWith('--'))) continue
    else if (arg.startsWith('-') && arg !== '-') {
      if (line.words.length === 0 && arg === '--version') line.version = true
      else if (line.words.length === 0) line.strayFlag ??= arg
      wordsEnded = true
    } else if (!wordsEnded) {
      line.words.push(arg)
      line.at.push(i)
    }
  }
  return line
}

function findCommand(words: string[]): CommandEntry | undefined {
  let best: CommandEntry | undefined
  for (const command of COMMANDS) {
    const n = command.path.length
    if (words.length >= n && command.path.every((w, i) => words[i] === w) && (best === undefined || n > best.path.length)) best = command
  }
  return best
}

/** The longest run of leading words that is a group of commands (`pack`, `pack tag`), if any. */
function findGroup(words: string[]): string[] | undefined {
  for (let n = words.length; n > 0; n--) {
    if (GROUPS[words.slice(0, n).join(' ')] !== undefined) return words.slice(0, n)
  }
  return undefined
}

/**
 * The command the user most likely meant: one a few typos away (`pack pish`), or one whose
 * group word was left out (`push` for `pack push`, `login` for `registry login`).
 */
function suggestCommand(words: string[]): string | undefined {
  let best: { path: string; distance: number } | undefined
  for (const command of COMMANDS) {
    const path = command.path.join(' ')
    if (command.path.length > 1 && words.slice(0, command.path.length - 1).join(' ') === command.path.slice(1).join(' ')) return path
    if (words.length < command.path.length) continue
    const typed = words.slice(0, command.path.length).join(' ')
    const distance = editDistance(typed, path)
    if (distance <= Math.max(1, Math.floor(typed.length / 3)) && (best === undefined || distance < best.distance)) best = { path, distance }
  }
  return best?.path
}

async function runCommand(entry: CommandEntry, args: string[], help: boolean, io: Io): Promise<number> {
  const command = entry.load()
  if (help) {
    io.stdout.write(commandHelp(entry, command))
    return 0
  }
  try {
    await command.run(args, io)
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`Error: ${err.message}\n\n${command.usage}\n`)
      return 2
    }
    io.stderr.write(`Error: ${err instanceof CliError ? err.message : ((err as Error).message ?? String(err))}\n`)
    return 1
  }
}

export async function runCli(args: string[], io: Io, options: RouterOptions = {}): Promise<number> {
  const line = readCommandLine(args)
  // `packyard help pack push` is `packyard pack push --help`.
  if (line.words[0] === 'help') {
    const rest = args.filter((_, i) => i !== line.at[0])
    return runCli([...rest, '--help'], io, options)
  }
  const entry = findCommand(line.words)
  if (entry?.operator && options.clientOnly) {
    io.stderr.write(`Error: ${serverCommandMessage(entry.path)}\n`)
    return 1
  }
  if (entry !== undefined) {
    const used = new Set(line.at.slice(0, entry.path.length))
    return runCommand(entry, args.filter((_, i) => !used.has(i)), line.help, io)
  }
  if (line.words.length === 0) {
    if (line.version) return runCommand(COMMANDS.find((c) => c.path[0] === 'version') as CommandEntry, [], false, io)
    if (line.strayFlag !== undefined && !line.help) {
      const nearest = line.strayFlag.startsWith('--') ? closest(line.strayFlag, ['--home', '--help', '--version']) : undefined
      io.stderr.write(`Error: unknown option ${JSON.stringify(line.strayFlag)} before the command${nearest ? `; did you mean "${nearest}"?` : ''}\n\n${globalHelp(options)}`)
      return 2
    }
    io.stdout.write(globalHelp(options))
    // Nothing asked at all: show what there is, but a script that forgot its command fails.
    return line.help ? 0 : 2
  }
  const group = findGroup(line.words)
  if (group !== undefined && group.length === line.words.length) {
    if (options.clientOnly && inGroup(group).every((c) => c.operator)) {
      io.stderr.write(`Error: ${serverCommandMessage(group)}\n`)
      return 1
    }
    io.stdout.write(groupHelp(group, options))
    return line.help ? 0 : 2
  }
  const typed = line.words.slice(0, (group?.length ?? 0) + 1).join(' ')
  const suggestion = suggestCommand(line.words)
  io.stderr.write(`Error: unknown command ${JSON.stringify(typed)}${suggestion ? `; did you mean "${suggestion}"?` : ''}\n\n${group ? groupHelp(group, options) : globalHelp(options)}`)
  return 2
}

export function main(args: string[], options: RouterOptions = {}): void {
  // Each standard stream is set up when first used: a command that never writes to standard
  // error or reads standard input does not pay for them (a few milliseconds each).
  const io: Io = {
    stdout: standardOutput(),
    get stderr() {
      return process.stderr
    },
    get stdin() {
      return process.stdin
    },
    env: process.env,
  }
  runCli(args, io, options).then(
    (code) => {
      process.exitCode = code
      // A server that failed to start may still hold handles open; nothing else is running.
      if (code !== 0 && findCommand(readCommandLine(args).words)?.path[0] === 'serve') process.exit(code)
    },
    (err: unknown) => {
      process.stderr.write(`Error: ${String(err)}\n`)
      process.exit(1)
    },
  )
}
