// packyard notifications retry NAME [SERVER]: sends what is pending for endpoint NAME now,
// without waiting out its backoff (POST /v1/_notifications/NAME/retry). Writers only.

import type { EndpointStatus } from '../../notifications/sender.js'
import { type Command, parseCommandArgs } from '../command.js'
import { registryOption } from '../client-config.js'
import { chosenServer, connect } from '../http-client.js'

export const notificationsRetryCommand: Command = {
  usage: `Usage: packyard notifications retry NAME [SERVER] [flags]

Sends the events pending for notification endpoint NAME of the registry (SERVER, or -r,
or the default registry) now, instead of after its backoff: after fixing a receiver, so
it does not wait up to 5 minutes. Events are sent in order, with the ids they already
had. Only users in the registry's auth.access.writers may do it.

Flags:
  -r, --registry-server SERVER  the registry (default: the default registry)

Examples:
  packyard notifications retry ci`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...registryOption }, { min: 1, max: 2 })
    const name = positionals[0] as string
    const client = await connect({ home: values.home, server: chosenServer(positionals[1], values['registry-server']) }, io)
    const { endpoint } = (await client.json<{ endpoint: EndpointStatus }>('POST', `/v1/_notifications/${encodeURIComponent(name)}/retry`)).body
    io.stdout.write(`Retrying ${endpoint.name} now: ${endpoint.pending} events pending (state ${endpoint.state}${endpoint.lastError ? `, last error: ${endpoint.lastError}` : ''}).\n`)
  },
}
