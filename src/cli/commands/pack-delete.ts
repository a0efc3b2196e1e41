// packyard pack delete NAME:TAG|NAME@DIGEST: removes a whole pack version and every tag on it
// (DELETE /v1/_packs/NAME/REF). Writers only.

import { isParentLabel, parseTag } from '../../packs/tags.js'
import { CliError, type Command, parseCommandArgs } from '../command.js'
import { registryOption } from '../client-config.js'
import { connect } from '../http-client.js'
import { parsePackRef } from '../pack-ref.js'

interface DeleteResult {
  version?: string
  digest?: string
  tags?: string[]
}

export const packDeleteCommand: Command = {
  usage: `Usage: packyard pack delete NAME:TAG|NAME@DIGEST [flags]

Deletes the pack version that TAG or DIGEST (sha256:<64 hex>) names, with every tag
pointing at it; parent tags are re-linked to the remaining versions. To remove only one
tag, use packyard pack tag delete. A parent tag (1.x) is refused here: it moves as
versions come and go, so name the version by its own tag or digest.

Flags:
  -r, --registry-server SERVER  the registry (default: the default registry)

Examples:
  packyard pack delete nginx:1.16.1
  packyard pack delete nginx@sha256:5269f073ac8e3c2536270b496ca1cc537e32e44186a5a014b8c48cddca3c6e87`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...registryOption }, { min: 1, max: 1 })
    const ref = parsePackRef(positionals[0] as string, { digestAllowed: true, what: 'NAME:TAG or NAME@sha256:DIGEST' })
    if (ref.kind === 'tag' && isParentLabel(parseTag(ref.ref).label)) {
      throw new CliError(`${ref.name}:${ref.ref} is a parent tag, which follows the newest matching version; name the version by its own tag or digest`)
    }
    const client = await connect({ home: values.home, server: values['registry-server'] }, io)
    const { body } = await client.json<DeleteResult>('DELETE', `/v1/_packs/${encodeURIComponent(ref.name)}/${encodeURIComponent(ref.ref)}`)
    const tags = body.tags && body.tags.length > 0 ? ` and its tags ${body.tags.join(', ')}` : ''
    io.stdout.write(`Deleted ${ref.name} ${body.version ?? ref.ref}${body.digest ? ` (${body.digest})` : ''}${tags}\n`)
  },
}
