// packyard pack pull NAME[:TAG|@DIGEST] TARGET_DIR: downloads one pack version and writes it
// to TARGET_DIR/<name>-<version>/. The archive's sha256 is checked while it streams, and the
// folder only appears once everything is written and verified (extractPackArchive), so a
// failed pull leaves nothing behind.

import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { Transform, type TransformCallback } from 'node:stream'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { registryOption } from '../client-config.js'
import { connect } from '../http-client.js'
import { extractPackArchive } from '../pack-extract.js'
import { DIGEST, parsePackRef } from '../pack-ref.js'

interface VersionDetail {
  name: string
  version: string
  digest: string
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
(TARGET_DIR is created when missing; an existing NAME-VERSION folder is never touched).

Flags:
  -r, --registry-server SERVER  the registry (default: the default registry)

Examples:
  packyard pack pull nginx:1.16.1 /tmp/packs
  packyard pack pull nginx@sha256:5269f073ac8e3c2536270b496ca1cc537e32e44186a5a014b8c48cddca3c6e87 /tmp/packs`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...registryOption }, { min: 2, max: 2 })
    const ref = parsePackRef(positionals[0] as string, { digestAllowed: true, what: 'NAME:TAG or NAME@sha256:DIGEST' })
    const target = positionals[1] as string
    const client = await connect({ home: values.home, server: values['registry-server'] }, io)

    const name = encodeURIComponent(ref.name)
    const { body: detail } = await client.json<VersionDetail>('GET', `/v1/_packs/${name}/${encodeURIComponent(ref.ref)}`)
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
      folder = await extractPackArchive(verified, target, `${ref.name}-${detail.version}`)
    } catch (err) {
      if (err instanceof CliError) throw err
      throw new CliError(`cannot pull ${positionals[0]}: ${(err as Error).message}`)
    }
    io.stdout.write(`Pulled ${positionals[0]} (version ${detail.version}, ${detail.digest}) to ${folder}\n`)
  },
}
