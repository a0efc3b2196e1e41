// packyard pack ls [SERVER]: every tag of every pack on the registry (GET /v1/_packs, all
// pages), as a table or as JSON.

import { compareVersions, parseVersion } from '../../packs/versions.js'
import { type Command, parseCommandArgs, UsageError } from '../command.js'
import { registryOption } from '../client-config.js'
import { chosenServer, connect } from '../http-client.js'
import { formatTable, formatTime, parseOutput, shortDigest } from '../output.js'

export interface TagInfo {
  tag: string
  group: string | null
  label: string
  kind: 'version' | 'alias' | 'parent'
  version: string
  digest: string
  parentTags?: string[]
  updatedAt: string
}

export interface PackSummary {
  name: string
  displayName?: string
  layer?: string
  tags: TagInfo[]
  updatedAt?: string
}

const HEADER = ['NAME', 'TAG', 'VERSION', 'PARENT TAGS', 'DIGEST', 'UPDATED']

function compareTags(a: TagInfo, b: TagInfo): number {
  const group = (a.group ?? '').localeCompare(b.group ?? '')
  if (group !== 0) return group
  const va = parseVersion(a.version)
  const vb = parseVersion(b.version)
  const version = va && vb ? compareVersions(va, vb) : a.version.localeCompare(b.version)
  if (version !== 0) return version
  // The version tag itself before aliases pointing at the same version.
  if (a.kind !== b.kind) return a.kind === 'version' ? -1 : b.kind === 'version' ? 1 : 0
  return a.tag.localeCompare(b.tag)
}

export function packRows(packs: PackSummary[]): string[][] {
  const rows: string[][] = []
  for (const pack of [...packs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const tags = pack.tags.filter((t) => t.kind !== 'parent').sort(compareTags)
    if (tags.length === 0) rows.push([pack.name, '-', '-', '-', '-', formatTime(pack.updatedAt)])
    for (const t of tags) {
      const parents = t.parentTags && t.parentTags.length > 0 ? t.parentTags.join(',') : '-'
      rows.push([pack.name, t.tag, t.version, parents, shortDigest(t.digest), formatTime(t.updatedAt)])
    }
  }
  return rows
}

export const packLsCommand: Command = {
  usage: `Usage: packyard pack ls [SERVER] [flags]

Lists every tag of every pack on the registry (SERVER, or -r, or the default registry):
name, tag ([group__]label), version, the parent tags that point at it (like 1.x, 1.0.x),
the first 12 hex digits of its archive digest, and when it last changed (UTC).

Flags:
  -n, --name NAME               only packs whose name contains NAME
  -r, --registry-server SERVER  the registry (default: the default registry)
      --output json             print {"packs": [...]} as JSON

Examples:
  packyard pack ls
  packyard pack ls registry.example.com:5000 --name ubuntu`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...registryOption, name: { type: 'string', short: 'n' }, output: { type: 'string' } },
      { min: 0, max: 1 },
    )
    const json = parseOutput(values.output)
    const server = chosenServer(positionals[0], values['registry-server'])
    if (values.name === '') throw new UsageError('--name must not be empty')
    const client = await connect({ home: values.home, server }, io)

    // No `n`: the registry's own page size (limits.pagesize) is the efficient one.
    const query = new URLSearchParams()
    if (values.name !== undefined) query.set('name', values.name)
    const packs = await client.allPages<PackSummary>(`/v1/_packs${query.size > 0 ? `?${query}` : ''}`, 'packs')

    if (json) {
      io.stdout.write(`${JSON.stringify({ packs }, null, 2)}\n`)
      return
    }
    io.stdout.write(formatTable(HEADER, packRows(packs)))
  },
}
