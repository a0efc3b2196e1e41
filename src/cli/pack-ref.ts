// Pack references on the command line: `NAME:TAG` and `NAME@sha256:<64 hex>`, as the spectro CLI
// takes them (`pack pull nginx:1.16.1`, `pack pull nginx@sha256:...`, `pack tag add
// ubuntu:lts__14.4.3 stable`). Checked with the same rules as the server, so a typo is reported
// before anything is sent.

import { isRegistryError } from '../errors.js'
import { validatePackName } from '../packs/names.js'
import { parseTag } from '../packs/tags.js'
import { UsageError } from './command.js'

export const DIGEST = /^sha256:[0-9a-f]{64}$/

export interface PackRef {
  name: string
  /** A tag or a digest, as the /v1 routes take it. */
  ref: string
  kind: 'tag' | 'digest'
}

function usage(err: unknown): never {
  throw isRegistryError(err) ? new UsageError(err.message) : err
}

/**
 * Parses `NAME:TAG`, or also `NAME@sha256:...` when `digestAllowed`. `what` names the argument
 * in messages, e.g. "NAME:TAG".
 */
export function parsePackRef(arg: string, options: { digestAllowed: boolean; what: string }): PackRef {
  const at = arg.indexOf('@')
  const colon = arg.indexOf(':')
  let ref: PackRef
  if (at !== -1 && (colon === -1 || at < colon)) {
    if (!options.digestAllowed) throw new UsageError(`${JSON.stringify(arg)}: a digest cannot be used here; expected ${options.what}`)
    const digest = arg.slice(at + 1)
    if (!DIGEST.test(digest)) {
      throw new UsageError(`${JSON.stringify(arg)}: the digest must be sha256: followed by 64 lowercase hex digits`)
    }
    ref = { name: arg.slice(0, at), ref: digest, kind: 'digest' }
  } else if (colon !== -1) {
    ref = { name: arg.slice(0, colon), ref: arg.slice(colon + 1), kind: 'tag' }
    try {
      parseTag(ref.ref)
    } catch (err) {
      usage(err)
    }
  } else {
    throw new UsageError(`${JSON.stringify(arg)} names no tag; expected ${options.what} (packyard pack ls -n ${arg} lists the tags)`)
  }
  try {
    validatePackName(ref.name)
  } catch (err) {
    usage(err)
  }
  return ref
}
