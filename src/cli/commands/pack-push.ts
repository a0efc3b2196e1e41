// packyard pack push DIR: validates a pack folder locally, builds its reproducible archive and
// uploads it (POST /v1/_packs), then says what the registry did: created, updated, or
// unchanged because the content is already there.

import { type Command, type Io, CliError, parseCommandArgs, UsageError } from '../command.js'
import { registryOption } from '../client-config.js'
import { ApiError, connect, type RegistryClient } from '../http-client.js'
import { type LocalPack, measureArchive, packArchive, readLocalPack } from '../local-pack.js'
import { parseOutput } from '../output.js'

export interface PushOptions {
  force: boolean
  message: string | undefined
  skipDigestCheck: boolean
  json: boolean
}

interface PushResult {
  name: string
  version: string
  tag: string
  digest: string
  status: 'created' | 'updated' | 'unchanged'
  previousDigest?: string
  parentTags?: string[]
}

/** Checks the push flags before anything is read or sent. */
export function checkPushOptions(options: PushOptions): void {
  if (options.force && (options.message === undefined || options.message.trim() === '')) {
    throw new UsageError('--force needs --message (-m) saying what changed, e.g. -m "updated values"')
  }
  if (options.skipDigestCheck && !options.force) throw new UsageError('--skip-digest-check only applies with --force')
}

export async function pushPack(pack: LocalPack, client: RegistryClient, options: PushOptions, io: Io): Promise<void> {
  const { digest, size } = await measureArchive(pack)
  const fields: Array<[string, string]> = [
    ['force', String(options.force)],
    ['skipDigestCheck', String(options.skipDigestCheck)],
  ]
  if (options.message !== undefined) fields.push(['message', options.message])
  const ref = `${pack.packJson.name}:${pack.tag}`
  let result: PushResult
  try {
    const res = await client.upload<PushResult>('/v1/_packs', fields, {
      field: 'archive',
      filename: `${pack.folder}.tar.gz`,
      contentType: 'application/gzip',
      size,
      digest,
      open: () => packArchive(pack),
    })
    result = res.body
  } catch (err) {
    if (err instanceof ApiError && err.code === 'TAG_EXISTS') {
      const existing = typeof err.detail?.digest === 'string' ? ` (digest ${err.detail.digest})` : ''
      throw new CliError(
        `${ref} already exists on ${client.server}${existing}; to overwrite it: packyard pack push ${pack.dir} --force --message "what changed"`,
      )
    }
    throw err
  }
  if (result.status !== 'unchanged' && result.digest !== digest) {
    throw new CliError(`${client.server} recorded ${ref} with digest ${result.digest}, but the archive sent has ${digest}; push again`)
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return
  }
  const lines: string[] = []
  if (result.status === 'created') {
    lines.push(`Created ${ref} on ${client.server}`)
  } else if (result.status === 'updated') {
    const previous = result.previousDigest && result.previousDigest !== result.digest ? ` (was ${result.previousDigest})` : ''
    lines.push(`Updated ${ref} on ${client.server}${previous}`)
  } else if (result.digest === digest) {
    lines.push(`Unchanged ${ref} on ${client.server}: the registry already has this exact archive`)
  } else {
    lines.push(
      `Unchanged ${ref} on ${client.server}: the registry already has the same content in another archive (add --skip-digest-check to replace it anyway)`,
    )
  }
  lines.push(`Digest: ${result.digest}`)
  if (result.parentTags && result.parentTags.length > 0) lines.push(`Parent tags: ${result.parentTags.join(', ')}`)
  io.stdout.write(`${lines.join('\n')}\n`)
}

export const packPushCommand: Command = {
  usage: `Usage: packyard pack push PACK_SOURCE_DIR [flags]

Checks the pack in PACK_SOURCE_DIR (pack.json, values.yaml, the files pack.json names)
with the registry's own rules, then uploads it as a reproducible archive: the same
files always give the same digest. .DS_Store, .git and the patterns listed in the
folder's .packignore are left out. The pack gets the tag [group__]version from pack.json.

Flags:
  -r, --registry-server SERVER  the registry (default: the default registry)
  -f, --force                   overwrite the pack if its tag already exists
                                (only when its content differs, see --skip-digest-check)
  -m, --message MSG             what changed; required with --force
      --skip-digest-check       with --force, push even when the content (file names
                                and bytes) is the same as the registry's
      --output json             print the registry's answer as JSON

Examples:
  packyard pack push /tmp/packs/nginx-1.16.1
  packyard pack push /tmp/packs/nginx-1.16.1 --registry-server registry.example.com:5000
  packyard pack push /tmp/packs/nginx-1.16.1 --force --message "updated nginx pack values"`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...registryOption,
        force: { type: 'boolean', short: 'f' },
        message: { type: 'string', short: 'm' },
        'skip-digest-check': { type: 'boolean' },
        output: { type: 'string' },
      },
      { min: 1, max: 1 },
    )
    const json = parseOutput(values.output)
    const options: PushOptions = {
      force: values.force === true,
      message: values.message,
      skipDigestCheck: values['skip-digest-check'] === true,
      json,
    }
    checkPushOptions(options)
    const pack = await readLocalPack(positionals[0] as string)
    const client = await connect({ home: values.home, server: values['registry-server'] }, io)
    await pushPack(pack, client, options, io)
  },
}
