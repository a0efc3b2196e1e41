// packyard notifications ls [SERVER]: each notification endpoint's delivery state (GET
// /v1/_notifications), as a table or as JSON. Writers only, as on the server.

import type { EndpointStatus } from '../../notifications/sender.js'
import { type Command, parseCommandArgs } from '../command.js'
import { registryOption } from '../client-config.js'
import { chosenServer, connect } from '../http-client.js'
import { formatTable, formatTime, parseOutput } from '../output.js'

const HEADER = ['NAME', 'STATE', 'PENDING', 'DELIVERED', 'FAILED', 'DROPPED', 'LAST DELIVERY', 'LAST ERROR']

export const notificationsLsCommand: Command = {
  usage: `Usage: packyard notifications ls [SERVER] [flags]

Lists the notification endpoints of the registry (SERVER, or -r, or the default
registry) with their state: idle (all delivered), delivering, retrying (an attempt
failed), failing (threshold attempts in a row failed), disabled, or standby (another
replica of the registry delivers it); the events pending in
the outbox; and, since the registry started, the events delivered, the failed attempts
and the events dropped past notifications.retention. Only users in the registry's
auth.access.writers may read it.

Flags:
  -r, --registry-server SERVER  the registry (default: the default registry)
      --output json             print {"endpoints": [...]} as JSON`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...registryOption, output: { type: 'string' } }, { min: 0, max: 1 })
    const json = parseOutput(values.output)
    const client = await connect({ home: values.home, server: chosenServer(positionals[0], values['registry-server']) }, io)
    const { endpoints } = (await client.json<{ endpoints: EndpointStatus[] }>('GET', '/v1/_notifications')).body
    if (json) {
      io.stdout.write(`${JSON.stringify({ endpoints }, null, 2)}\n`)
      return
    }
    if (endpoints.length === 0) {
      io.stdout.write('No notification endpoints are configured (notifications.endpoints).\n')
      return
    }
    const rows = endpoints.map((e) => [
      e.name,
      e.state,
      String(e.pending),
      String(e.delivered),
      String(e.failedAttempts),
      String(e.dropped),
      e.lastDeliveryAt ? formatTime(e.lastDeliveryAt) : '-',
      e.lastError ?? '-',
    ])
    io.stdout.write(formatTable(HEADER, rows))
  },
}
