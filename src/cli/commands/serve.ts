// packyard serve [CONFIG]: run the registry server.

import { serve } from '../../server.js'
import { type Command, parseCommandArgs } from '../command.js'

export const serveCommand: Command = {
  usage: `Usage: packyard serve [CONFIG]

Runs the registry. CONFIG is a YAML file (see config.example.yaml); without it,
/etc/spectro/config.yml is used when present, else the built-in defaults
(storage ./data with the users in ./data/htpasswd, listen :5000). Any key can be
overridden with REGISTRY_<KEY PATH>, e.g. REGISTRY_HTTP_ADDR=:5055 or REGISTRY_LOG_LEVEL=debug.
A second server on the same storage root, or on the same database, refuses to start
(the root's packyard.lock, the database's <database>.lock).`,
  async run(args) {
    const { positionals } = parseCommandArgs(args, {}, { min: 0, max: 1 })
    await serve(positionals[0])
  },
}
