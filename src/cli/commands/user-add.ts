// packyard user add NAME: add or update a user in the htpasswd file the server reads.

import { setHtpasswdUser, validateUserName } from '../../auth/htpasswd.js'
import { loadConfig } from '../../config/load.js'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { readPassword } from '../prompt.js'

export const userAddCommand: Command = {
  usage: `Usage: packyard user add NAME [--password-stdin] [--htpasswd PATH] [--config CONFIG]

Writes a bcrypt entry for NAME (the format of htpasswd -B) that the server accepts.
The password is asked for on the terminal, or read from standard input with
--password-stdin. The file is auth.htpasswd.path of the config (or --htpasswd PATH).
A running server picks up the change within a second. Users listed in
auth.access.writers (default: admin) may push; everyone else is read-only.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { 'password-stdin': { type: 'boolean' }, htpasswd: { type: 'string' }, config: { type: 'string' } },
      { min: 1, max: 1 },
    )
    const name = positionals[0] as string
    try {
      validateUserName(name)
    } catch (err) {
      throw new CliError((err as Error).message)
    }
    let path = values.htpasswd
    if (!path) {
      const config = loadConfig({ file: values.config, env: io.env })
      if (!config.auth) throw new CliError('the config has no auth section; pass --htpasswd PATH')
      path = config.auth.htpasswdPath
    }
    const password = await readPassword(io, { fromStdin: values['password-stdin'] === true, confirm: true })
    if (password === '') throw new CliError('the password must not be empty')
    const outcome = await setHtpasswdUser(path, name, password)
    io.stdout.write(`${outcome === 'added' ? 'Added' : 'Updated'} user ${name} in ${path}\n`)
  },
}
