// packyard registry logout [SERVER]: forgets a saved login.

import { type Command, parseCommandArgs, UsageError } from '../command.js'
import { defaultServer, parseServer, readClientConfig, removeEntry, resolveHome, writeClientConfig } from '../client-config.js'

export const registryLogoutCommand: Command = {
  usage: `Usage: packyard registry logout [SERVER] [flags]

Removes the login for SERVER (host:port; default: the default registry) from
<home>/config.json. If it was the default registry, there is no default afterwards.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {}, { min: 0, max: 1 })
    const config = await readClientConfig(resolveHome(values.home, io.env))
    const requested = positionals[0] ?? defaultServer(config)
    if (requested === undefined) throw new UsageError('SERVER is missing and there is no default registry')
    const { server } = parseServer(requested)
    // Like `docker logout`: nothing to forget is not a failure, so scripts can always run it.
    if (!removeEntry(config, server)) {
      io.stdout.write(`Not logged in to ${server}\n`)
      return
    }
    await writeClientConfig(config)
    io.stdout.write(`Removed login credentials for ${server}\n`)
  },
}
