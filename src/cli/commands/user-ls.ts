// packyard user ls: the users of the htpasswd file the server reads, and what each may do.

import { type Command, parseCommandArgs } from '../command.js'
import { formatTable, parseOutput } from '../output.js'
import { readUsers, USER_FILE_FLAGS, USER_FILE_USAGE, userFiles } from '../user-files.js'

export const userLsCommand: Command = {
  usage: `Usage: packyard user ls [--htpasswd PATH] [--config CONFIG] [--output json]

Lists the users and their access: read-write for those in auth.access.writers of the
config, read-only for the others. Lines the server skips (not bcrypt, malformed) are
reported on stderr. ${USER_FILE_USAGE}
  --output json   print {"users": [{"name", "writer"}]} as JSON`,
  async run(args, io) {
    const { values } = parseCommandArgs(args, { ...USER_FILE_FLAGS, output: { type: 'string' } }, { min: 0, max: 0 })
    const json = parseOutput(values.output)
    const files = userFiles(values, io)
    const { users, problems } = await readUsers(files.htpasswd)
    const writers = new Set(files.config.auth?.writers ?? [])
    const list = [...users.keys()].sort().map((name) => ({ name, writer: writers.has(name) }))
    for (const p of problems) io.stderr.write(`Warning: ${files.htpasswd}: ${p}\n`)
    if (json) {
      io.stdout.write(`${JSON.stringify({ users: list }, null, 2)}\n`)
      return
    }
    io.stdout.write(formatTable(['NAME', 'ACCESS'], list.map((u) => [u.name, u.writer ? 'read-write' : 'read-only'])))
  },
}
