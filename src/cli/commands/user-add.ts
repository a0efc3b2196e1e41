// packyard user add NAME: add or update a user in the htpasswd file the server reads, and with
// --writer add it to auth.access.writers in the config file too (the server reloads both). The
// change is recorded in the registry's audit trail.

import { setHtpasswdUser, validateUserName } from '../../auth/htpasswd.js'
import { ConfigEditRefused, planAddWriter, type WritersEdit } from '../../config/edit.js'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { readPassword } from '../prompt.js'
import { recordUserChange, retireInitialPasswordAfter, USER_FILE_FLAGS, USER_FILE_USAGE, userFiles } from '../user-files.js'

export const userAddCommand: Command = {
  usage: `Usage: packyard user add NAME [--writer] [--password-stdin] [--htpasswd PATH] [--config CONFIG]

Writes a bcrypt entry for NAME (the format of htpasswd -B) that the server accepts.
The password is asked for on the terminal, or read from standard input with
--password-stdin. ${USER_FILE_USAGE}
A running server picks up the change within a second. Users listed in
auth.access.writers (default: admin) may push; everyone else is read-only.
--writer also adds NAME to auth.access.writers in the config file (comments and
layout kept); a server started with that file applies it within seconds. When the file
cannot be edited safely
(no config file, a REGISTRY_AUTH_ACCESS_WRITERS override, a read-only or linked file),
nothing is changed and the error says what to change by hand.
Changing admin's password deletes the root's initial-admin-password.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { writer: { type: 'boolean' }, 'password-stdin': { type: 'boolean' }, ...USER_FILE_FLAGS },
      { min: 1, max: 1 },
    )
    const name = positionals[0] as string
    try {
      validateUserName(name)
    } catch (err) {
      throw new CliError((err as Error).message)
    }
    const files = userFiles(values, io)
    // Refuse before asking for a password or writing anything.
    let writers: WritersEdit | null = null
    if (values.writer === true) {
      try {
        writers = await planAddWriter(files.configFile, name, io.env)
      } catch (err) {
        if (err instanceof ConfigEditRefused) throw new CliError(`cannot make ${name} a writer, so nothing was changed: ${err.message}`)
        throw err
      }
    }
    const password = await readPassword(io, { fromStdin: values['password-stdin'] === true, confirm: true })
    if (password === '') throw new CliError('the password must not be empty')
    const outcome = await setHtpasswdUser(files.htpasswd, name, password)
    io.stdout.write(`${outcome === 'added' ? 'Added' : 'Updated'} user ${name} in ${files.htpasswd}\n`)
    if (writers) {
      try {
        await writers.apply()
      } catch (err) {
        if (err instanceof ConfigEditRefused) throw new CliError(`${name} was added, but not as a writer: ${err.message}`)
        throw err
      }
      io.stdout.write(
        writers.changed
          ? `Added ${name} to auth.access.writers in ${writers.file} (now ${writers.writers.join(', ')}); a server started with it applies it within seconds\n`
          : `${name} already is in auth.access.writers\n`,
      )
    }
    await recordUserChange(files, io, 'user.add', { user: name, outcome, writer: writers !== null })
    await retireInitialPasswordAfter(name, files, io)
  },
}
