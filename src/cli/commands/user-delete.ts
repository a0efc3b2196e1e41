// packyard user delete NAME: remove a user from the htpasswd file the server reads, and record
// it in the registry's audit trail.

import { removeHtpasswdUser } from '../../auth/htpasswd.js'
import { type Command, CliError, parseCommandArgs } from '../command.js'
import { readUsers, recordUserChange, retireInitialPasswordAfter, USER_FILE_FLAGS, USER_FILE_USAGE, userFiles } from '../user-files.js'

export const userDeleteCommand: Command = {
  usage: `Usage: packyard user delete NAME [--htpasswd PATH] [--config CONFIG]

Removes NAME's entry; a running server refuses its credentials within a second.
${USER_FILE_USAGE}
Deleting admin deletes the root's initial-admin-password.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, USER_FILE_FLAGS, { min: 1, max: 1 })
    const name = positionals[0] as string
    const files = userFiles(values, io)
    await readUsers(files.htpasswd)
    if (!(await removeHtpasswdUser(files.htpasswd, name))) throw new CliError(`there is no user ${JSON.stringify(name)} in ${files.htpasswd}`)
    io.stdout.write(`Deleted user ${name} from ${files.htpasswd}\n`)
    if (files.config.auth?.writers.includes(name)) {
      io.stdout.write(
        `${name} is still listed in auth.access.writers (${files.configFile ?? 'the built-in default'}); remove it there so that a new user of that name does not get write access\n`,
      )
    }
    await recordUserChange(files, io, 'user.delete', { user: name })
    await retireInitialPasswordAfter(name, files, io)
  },
}
