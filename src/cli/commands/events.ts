// packyard events [SERVER]: the registry's audit trail (GET /v1/_events, all pages), oldest
// first, as a table or as JSON, with the replica that handled each change. Writers only, as on
// the server.

import type { EventView } from '../../audit.js'
import { DURATION_HINT, parseDuration } from '../../config/duration.js'
import { formatBytes } from '../../format.js'
import { type Command, parseCommandArgs, parseFlagValue, UsageError } from '../command.js'
import { registryOption } from '../client-config.js'
import { chosenServer, connect } from '../http-client.js'
import { formatTable, formatTime, parseOutput, shortDigest } from '../output.js'

const HEADER = ['TIME', 'USER', 'ACTION', 'PACK', 'TAG', 'DIGEST', 'REPLICA', 'DETAIL']

/** What the DETAIL column says about an event. */
function detailOf(e: EventView): string {
  const d = e.detail ?? {}
  const num = (key: string) => (typeof d[key] === 'number' ? d[key] : 0)
  switch (e.action) {
    case 'gc':
      // blobsWithinGrace: recorded since the registry page and garbage-collect say it too
      return (
        `removed ${num('blobsRemoved')} blobs (${formatBytes(num('bytesFreed'))}) and ${num('tempFilesRemoved')} temp files` +
        (num('blobsWithinGrace') > 0 ? `; ${num('blobsWithinGrace')} unreferenced blobs kept within the grace period` : '')
      )
    case 'lockout':
      return `${num('failures')} failed logins from ${String(d.address ?? '?')}; locked for ${Math.round(num('lockoutSeconds') / 60)} min`
    case 'user.add':
      return `${d.outcome === 'updated' ? 'new password for' : 'added'} ${String(d.user ?? '?')}${d.writer === true ? ' (writer)' : ''}`
    case 'user.delete':
      return `deleted ${String(d.user ?? '?')}`
    case 'sync':
      return (
        `${String(d.upstream ?? '?')}: copied ${num('packsCopied')} packs (${formatBytes(num('bytesCopied'))}), ${num('conflicts')} in conflict, ${num('refused')} refused, ${num('failed')} failed` +
        (typeof d.error === 'string' ? `; ${d.error}` : '')
      )
    case 'delete':
      return e.message ? `tags: ${e.message}` : ''
    case 'update':
      return `${e.forced ? 'forced' : 'moved'}${e.oldDigest ? ` from ${shortDigest(e.oldDigest)}` : ''}${e.message ? `: ${e.message}` : ''}`
    default:
      return e.message ?? ''
  }
}

export function eventRows(events: EventView[]): string[][] {
  return events.map((e) => {
    const digest = e.newDigest ?? e.oldDigest
    // An operator command's events name no replica; a server older than replicas sends no field.
    return [formatTime(e.at), e.user || '-', e.action, e.repository ?? '-', e.tag ?? '-', digest ? shortDigest(digest) : '-', e.replica ?? '-', detailOf(e) || '-']
  })
}

/** `--since`: a duration back from now (`90m`, `24h`) or a time (`2026-11-23`, `2026-11-23T06:00:00Z`). */
function parseSince(value: string, now: number): string {
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const time = Date.parse(value.trim())
    if (Number.isNaN(time)) throw new Error(`${JSON.stringify(value)} is not a valid time`)
    return new Date(time).toISOString()
  }
  const ms = parseDuration(value)
  if (ms === null) throw new Error(`${DURATION_HINT}, or a time such as 2026-11-23T06:00:00Z (got ${JSON.stringify(value)})`)
  return new Date(now - ms).toISOString()
}

export const eventsCommand: Command = {
  usage: `Usage: packyard events [SERVER] [flags]

Prints the audit trail of the registry (SERVER, or -r, or the default registry), oldest
first: every push and forced push (create, update), tag change (tag, untag), delete,
garbage collection (gc), login lockout (lockout), user change (user.add,
user.delete) and mirror run or conflict (sync, sync.conflict), with when, by whom and on which
replica (replica.id of the server that handled it; - for operator commands). Only users
in the registry's auth.access.writers may read it.

Flags:
      --since WHEN              only events since WHEN: a duration back from now (30m,
                                24h) or a time (2026-11-23, 2026-11-23T06:00:00Z)
  -p, --pack NAME               only events of pack NAME
  -u, --user NAME               only events by user NAME
  -r, --registry-server SERVER  the registry (default: the default registry)
      --output json             print {"events": [...]} as JSON

Examples:
  packyard events --since 24h
  packyard events --pack hello --output json`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...registryOption, since: { type: 'string' }, pack: { type: 'string', short: 'p' }, user: { type: 'string', short: 'u' }, output: { type: 'string' } },
      { min: 0, max: 1 },
    )
    const json = parseOutput(values.output)
    const server = chosenServer(positionals[0], values['registry-server'])
    if (values.pack === '') throw new UsageError('--pack must not be empty')
    if (values.user === '') throw new UsageError('--user must not be empty')
    const query = new URLSearchParams()
    if (values.since !== undefined) query.set('since', parseFlagValue('--since', values.since, (v) => parseSince(v, Date.now())))
    if (values.pack !== undefined) query.set('pack', values.pack)
    if (values.user !== undefined) query.set('user', values.user)
    const client = await connect({ home: values.home, server }, io)
    const events = await client.allPages<EventView>(`/v1/_events${query.size > 0 ? `?${query}` : ''}`, 'events')

    if (json) {
      io.stdout.write(`${JSON.stringify({ events }, null, 2)}\n`)
      return
    }
    io.stdout.write(formatTable(HEADER, eventRows(events)))
  },
}
