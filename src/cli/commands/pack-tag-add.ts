// packyard pack tag add NAME:TAG LABEL [-g GROUP]: gives an existing pack version another tag
// (PUT /v1/_packs/NAME/_tags/[GROUP__]LABEL), like `spectro pack tag add`.

import { isRegistryError } from '../../errors.js'
import { formatTag, validateUserTag } from '../../packs/tags.js'
import { CliError, type Command, parseCommandArgs, UsageError } from '../command.js'
import { registryOption } from '../client-config.js'
import { ApiError, connect } from '../http-client.js'
import { parsePackRef } from '../pack-ref.js'

interface TagResult {
  status: 'created' | 'unchanged'
  digest?: string
}

export const packTagAddCommand: Command = {
  usage: `Usage: packyard pack tag add SOURCE_PACK:TAG TARGET_LABEL [flags]

Tags the version that SOURCE_PACK:TAG points at (TAG may also be @sha256:DIGEST) with
TARGET_LABEL, in the group given by -g. A tag is [group__]label: lts__14.4.3 has the
group lts and the label 14.4.3. Parent tags (1.x, 1.4.x) are kept by the registry and
cannot be added by hand. A tag that already points at another version is not moved:
delete it first.

Flags:
  -g, --group GROUP             the group of the new tag
  -r, --registry-server SERVER  the registry (default: the default registry)

Examples:
  packyard pack tag add ubuntu:lts__14.4.3 stable
  packyard pack tag add ubuntu:lts__14.4.3 14.4.3-beta -g lts -r registry.example.com:5000`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...registryOption, group: { type: 'string', short: 'g' } },
      { min: 2, max: 2 },
    )
    const source = parsePackRef(positionals[0] as string, { digestAllowed: true, what: 'SOURCE_PACK:TAG' })
    const label = positionals[1] as string
    if (values.group === '') throw new UsageError('--group must not be empty')
    if (values.group !== undefined && values.group.includes('__')) throw new UsageError('--group must not contain "__", which separates the group from the label')
    const target = formatTag(values.group ?? null, label)
    try {
      validateUserTag(target)
    } catch (err) {
      if (isRegistryError(err) && err.code === 'TAG_PROTECTED') throw new CliError(err.message)
      throw isRegistryError(err) ? new UsageError(err.message) : err
    }
    const client = await connect({ home: values.home, server: values['registry-server'] }, io)
    let result: TagResult
    try {
      const res = await client.json<TagResult>('PUT', `/v1/_packs/${encodeURIComponent(source.name)}/_tags/${encodeURIComponent(target)}`, { ref: source.ref })
      result = res.body
    } catch (err) {
      if (err instanceof ApiError && err.code === 'TAG_EXISTS') {
        throw new CliError(`${err.reason}: packyard pack tag delete ${source.name}:${target}`)
      }
      throw err
    }
    const sourceText = source.kind === 'tag' ? `${source.name}:${source.ref}` : `${source.name}@${source.ref}`
    const digest = result.digest ? ` (${result.digest})` : ''
    io.stdout.write(
      result.status === 'unchanged'
        ? `${source.name}:${target} already points at ${sourceText}${digest}\n`
        : `Tagged ${sourceText} as ${source.name}:${target}${digest}\n`,
    )
  },
}
