// packyard pack push DIR: validates a pack folder locally, asks the registry whether the push
// can succeed (the user may push; the tag is free, or --force), builds its reproducible archive
// and uploads it (POST /v1/_packs), then says what the registry did: created, updated, or
// unchanged because the content is already there.

import { type Command, type Io, CliError, parseCommandArgs, UsageError } from '../command.js'
import { registryOption } from '../client-config.js'
import { ApiError, connect, type RegistryClient } from '../http-client.js'
import { type LocalPack, readLocalPack, stageArchive } from '../local-pack.js'
import { parseOutput } from '../output.js'
import { formatTag } from '../../packs/tags.js'
import { parseVersion } from '../../packs/versions.js'

export interface PushOptions {
  force: boolean
  message: string | undefined
  skipDigestCheck: boolean
  /** Validation warnings refuse the push, here and on the registry. */
  strict: boolean
  json: boolean
}

interface PushResult {
  name: string
  version: string
  tag: string
  digest: string
  status: 'created' | 'updated' | 'unchanged'
  previousDigest?: string
  group?: string | null
  parentTags?: string[]
  /** The parent tags this push created or moved (registries before 0.2 do not say). */
  parentTagsMoved?: Array<{ tag: string; from: string | null; to: string }>
  warnings?: Array<{ message: string }>
}

/**
 * The parent tags now on the pushed version, each with the version tag it followed before when
 * this push moved it; and for a pre-release its major's parent tag did not take, why.
 */
export function parentTagLines(result: Pick<PushResult, 'version' | 'group' | 'parentTags' | 'parentTagsMoved'>): string[] {
  const moved = new Map((result.parentTagsMoved ?? []).map((m) => [m.tag, m.from]))
  const lines: string[] = []
  const parents = result.parentTags ?? []
  if (parents.length > 0) {
    const described = parents.map((tag) => {
      const from = moved.get(tag)
      return from ? `${tag} (was ${from})` : tag
    })
    lines.push(`Parent tags: ${described.join(', ')}`)
  }
  const version = parseVersion(result.version)
  const major = version ? formatTag(result.group ?? null, `${version.major}.x`) : null
  if (version && version.prerelease.length > 0 && major !== null && !parents.includes(major)) {
    lines.push(`${major} did not move: parent tags follow the newest release of their line, and a pre-release only while the line has no release`)
  }
  return lines
}

/** Checks the push flags before anything is read or sent. */
export function checkPushOptions(options: PushOptions): void {
  if (options.force && (options.message === undefined || options.message.trim() === '')) {
    throw new UsageError('--force needs --message (-m) saying what changed, e.g. -m "updated values"')
  }
  if (options.skipDigestCheck && !options.force) throw new UsageError('--skip-digest-check only applies with --force')
}

function tagExists(pack: LocalPack, server: string, digest: unknown): CliError {
  const existing = typeof digest === 'string' ? ` (digest ${digest})` : ''
  return new CliError(
    `${pack.packJson.name}:${pack.tag} already exists on ${server}${existing}; to overwrite it: packyard pack push ${pack.dir} --force --message "what changed"`,
  )
}

/**
 * Refuses what the registry would refuse before the archive, which may be large, is built and
 * sent: a user who may not push, or a tag that exists without --force. A registry that does not
 * say (an older one answers GET /v1/ with {}) decides at upload time, as it always does, which
 * also covers a tag pushed by someone else in between.
 */
async function checkBeforeUpload(pack: LocalPack, client: RegistryClient, options: PushOptions): Promise<void> {
  const { body: caller } = await client.json<{ user?: unknown; canPush?: unknown }>('GET', '/v1/')
  if (caller.canPush === false) {
    const user = typeof caller.user === 'string' ? caller.user : client.user
    throw new CliError(`user ${user} may read but not push to ${client.server}; ask an operator to add it to auth.access.writers`)
  }
  if (options.force) return
  let existing: { digest?: unknown }
  try {
    existing = (await client.json<{ digest?: unknown }>('GET', `/v1/_packs/${encodeURIComponent(pack.packJson.name)}/${encodeURIComponent(pack.tag)}`)).body
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return
    throw err
  }
  throw tagExists(pack, client.server, existing.digest)
}

export async function pushPack(pack: LocalPack, client: RegistryClient, options: PushOptions, io: Io): Promise<void> {
  // The archive is built while the registry answers the checks; a refusal stops the build.
  const abort = new AbortController()
  const staging = stageArchive(pack, { signal: abort.signal })
  staging.catch(() => {}) // awaited below, once the checks have passed
  try {
    await checkBeforeUpload(pack, client, options)
  } catch (err) {
    abort.abort(err)
    await staging.then((archive) => archive.remove(), () => {})
    throw err
  }
  const fields: Array<[string, string]> = [
    ['force', String(options.force)],
    ['skipDigestCheck', String(options.skipDigestCheck)],
    ['strict', String(options.strict)],
  ]
  if (options.message !== undefined) fields.push(['message', options.message])
  const ref = `${pack.packJson.name}:${pack.tag}`
  const archive = await staging
  const { digest } = archive
  let result: PushResult
  try {
    const res = await client.upload<PushResult>('/v1/_packs', fields, {
      field: 'archive',
      filename: `${pack.folder}.tar.gz`,
      contentType: 'application/gzip',
      size: archive.size,
      digest,
      open: archive.open,
    })
    result = res.body
  } catch (err) {
    if (err instanceof ApiError && err.code === 'TAG_EXISTS') throw tagExists(pack, client.server, err.detail?.digest)
    throw err
  } finally {
    await archive.remove()
  }
  if (result.status !== 'unchanged' && result.digest !== digest) {
    throw new CliError(`${client.server} recorded ${ref} with digest ${result.digest}, but the archive sent has ${digest}; push again`)
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return
  }
  // The registry's own list: it may know more than the local check (it is the one that counts).
  for (const warning of result.warnings ?? []) io.stderr.write(`Warning: ${warning.message}\n`)
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
  lines.push(...parentTagLines(result))
  io.stdout.write(`${lines.join('\n')}\n`)
}

export const packPushCommand: Command = {
  usage: `Usage: packyard pack push PACK_SOURCE_DIR [flags]

Checks the pack in PACK_SOURCE_DIR (pack.json, values.yaml, the files pack.json names)
with the registry's own rules, then uploads it as a reproducible archive: the same
files always give the same digest. .DS_Store, .git and the patterns listed in the
folder's .packignore are left out. The pack gets the tag [group__]version from pack.json.
Before anything is uploaded, the registry is asked whether the user may push and, without
--force, whether the tag exists, so a push that would be refused sends nothing.

Flags:
  -r, --registry-server SERVER  the registry (default: the default registry)
  -f, --force                   overwrite the pack if its tag already exists
                                (only when its content differs, see --skip-digest-check)
  -m, --message MSG             what changed; required with --force
      --skip-digest-check       with --force, push even when the content (file names
                                and bytes) is the same as the registry's
      --strict                  refuse the pack for what would otherwise be warnings
                                (a file pack.json names that is missing, no logo,
                                an unknown layer...)
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
        strict: { type: 'boolean' },
        output: { type: 'string' },
      },
      { min: 1, max: 1 },
    )
    const json = parseOutput(values.output)
    const options: PushOptions = {
      force: values.force === true,
      message: values.message,
      skipDigestCheck: values['skip-digest-check'] === true,
      strict: values.strict === true,
      json,
    }
    checkPushOptions(options)
    const pack = await readLocalPack(positionals[0] as string, { strict: options.strict })
    const client = await connect({ home: values.home, server: values['registry-server'] }, io)
    await pushPack(pack, client, options, io)
  },
}
