// packyard pack pull NAME[:TAG|@DIGEST] TARGET_DIR: downloads one pack version and writes it
// to TARGET_DIR/<name>-<version>/. The archive's sha256 is checked while it streams, and the
// folder only appears once everything is written and verified (extractPackArchive), so a
// failed pull leaves nothing behind. A tag that is not there gets the tags that are named (the
// same label in another group first: `2.x` when only `lts__2.x` exists).

import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { Transform, type TransformCallback } from 'node:stream'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { registryOption } from '../client-config.js'
import { ApiError, connect, type RegistryClient } from '../http-client.js'
import { extractPackArchive, FolderExistsError } from '../pack-extract.js'
import { DIGEST, type PackRef, parsePackRef } from '../pack-ref.js'

interface VersionDetail {
  name: string
  version: string
  digest: string
}

/** How many of a pack's tags an error lists before "...". */
const LISTED_TAGS = 20

/**
 * The error for a tag the pack does not have, naming the tags it has: first the same label in
 * other groups (`lts__2.x` for `2.x`), else all of them. The pack's own 404 when it has none.
 */
async function missingTag(client: RegistryClient, ref: PackRef, original: ApiError): Promise<CliError> {
  let tags: string[]
  try {
    const listed = await client.allPages<{ tag?: unknown }>(`/v1/_packs/${encodeURIComponent(ref.name)}/_tags`, 'tags')
    tags = listed.map((t) => t.tag).filter((t): t is string => typeof t === 'string')
  } catch {
    return original
  }
  if (tags.length === 0) return original
  const sameLabel = tags.filter((t) => t.endsWith(`__${ref.ref}`))
  if (sameLabel.length > 0) {
    const named = sameLabel.map((t) => `${ref.name}:${t}`)
    return new CliError(`${ref.name} has no tag ${ref.ref}, but ${sameLabel.length === 1 ? 'has' : 'has these in groups'} ${sameLabel.join(', ')}: pull ${named.length === 1 ? named[0] : `one of ${named.join(', ')}`}`)
  }
  const listed = tags.length > LISTED_TAGS ? `${tags.slice(0, LISTED_TAGS).join(', ')}, ... (packyard pack ls -n ${ref.name})` : tags.join(', ')
  return new CliError(`${ref.name} has no tag ${ref.ref}; its tags: ${listed}`)
}

/** Passes the archive through, failing at its end unless its sha256 is `expected`. */
function verifyDigest(expected: string): Transform {
  const hash = createHash('sha256')
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk)
      callback(null, chunk)
    },
    flush(callback: TransformCallback) {
      const actual = `sha256:${hash.digest('hex')}`
      callback(actual === expected ? null : new CliError(`the downloaded archive has digest ${actual}, not ${expected}; nothing was written`))
    },
  })
}

export const packPullCommand: Command = {
  usage: `Usage: packyard pack pull NAME[:TAG|@DIGEST] TARGET_DIR [flags]

Downloads the pack version that TAG (e.g. 1.0.0, stable, 1.x) or DIGEST
(sha256:<64 hex>) names, checks its digest, and writes it to TARGET_DIR/NAME-VERSION/
(TARGET_DIR is created when missing; an existing NAME-VERSION folder is only replaced
with --force, and only once the new one is complete).

Flags:
  -f, --force                   replace TARGET_DIR/NAME-VERSION if it exists
  -r, --registry-server SERVER  the registry (default: the default registry)

Examples:
  packyard pack pull nginx:1.16.1 /tmp/packs
  packyard pack pull nginx@sha256:5269f073ac8e3c2536270b496ca1cc537e32e44186a5a014b8c48cddca3c6e87 /tmp/packs`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...registryOption, force: { type: 'boolean', short: 'f' } }, { min: 2, max: 2 })
    const ref = parsePackRef(positionals[0] as string, { digestAllowed: true, what: 'NAME:TAG or NAME@sha256:DIGEST' })
    const target = positionals[1] as string
    const client = await connect({ home: values.home, server: values['registry-server'] }, io)

    const name = encodeURIComponent(ref.name)
    const { body: detail } = await client.json<VersionDetail>('GET', `/v1/_packs/${name}/${encodeURIComponent(ref.ref)}`).catch(async (err: unknown) => {
      throw err instanceof ApiError && err.code === 'TAG_UNKNOWN' && ref.kind === 'tag' ? await missingTag(client, ref, err) : err
    })
    if (typeof detail.digest !== 'string' || !DIGEST.test(detail.digest) || typeof detail.version !== 'string') {
      throw new CliError(`${client.server} described ${positionals[0]} without a valid version and digest`)
    }
    // By digest, so a tag moved in between cannot hand over another version than described.
    const archive = await client.download(`/v1/_packs/${name}/${encodeURIComponent(detail.digest)}/archive`)
    const announced = archive.headers['docker-content-digest']
    if (announced !== undefined && announced !== detail.digest) {
      archive.destroy()
      throw new CliError(`${client.server} sent archive ${announced} for ${detail.digest}; nothing was written`)
    }
    try {
      await mkdir(target, { recursive: true })
    } catch (err) {
      archive.destroy()
      throw new CliError(`cannot create ${target}: ${(err as Error).message}`)
    }
    const verified = archive.pipe(verifyDigest(detail.digest))
    archive.on('error', (err) => verified.destroy(err))
    let folder: string
    try {
      folder = await extractPackArchive(verified, target, `${ref.name}-${detail.version}`, { replace: values.force === true })
    } catch (err) {
      if (err instanceof CliError) throw err
      if (err instanceof FolderExistsError) throw new CliError(`${err.path} already exists; pull with --force to replace it`)
      throw new CliError(`cannot pull ${positionals[0]}: ${(err as Error).message}`)
    }
    io.stdout.write(`Pulled ${positionals[0]} (version ${detail.version}, ${detail.digest}) to ${folder}\n`)
  },
}
