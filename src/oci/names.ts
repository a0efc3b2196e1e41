// The grammar of the OCI distribution spec v1.1 for what appears in a /v2 path: repository
// names (which may contain slashes), tags and digests; how a /v2 path splits into a
// repository name and an endpoint; and which stored repository a name means (a pack under
// the configured namespace, else a plain OCI repository). Pure functions, typed errors.

import { RegistryError } from '../errors.js'
import { assertDigest } from '../store/digest.js'

/** Distribution's limit; clients cap `<host>/<name>` at 255 too. */
export const NAME_MAX = 255

// One path component: lowercase alphanumerics joined by ".", "_", "__" or runs of "-".
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/

export function validateRepositoryName(name: string): void {
  // Length first, so the pattern never runs on unbounded input.
  if (name.length === 0 || name.length > NAME_MAX) {
    throw new RegistryError('NAME_INVALID', `repository name must be 1 to ${NAME_MAX} characters long (got ${name.length})`, { name: name.slice(0, NAME_MAX) })
  }
  for (const component of name.split('/')) {
    if (!COMPONENT.test(component)) {
      throw new RegistryError(
        'NAME_INVALID',
        `invalid repository name ${JSON.stringify(name)}: each "/"-separated component must match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*`,
        { name },
      )
    }
  }
}

export function validateTag(tag: string): void {
  if (!TAG.test(tag)) {
    throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(tag.slice(0, 200))}: a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, { tag: tag.slice(0, 200) })
  }
}

/** A manifest reference is a digest when it has the `algorithm:encoded` shape, else a tag. */
export type Reference = { kind: 'digest'; digest: string } | { kind: 'tag'; tag: string }

export function parseReference(reference: string): Reference {
  if (reference.includes(':')) {
    assertDigest(reference)
    return { kind: 'digest', digest: reference }
  }
  validateTag(reference)
  return { kind: 'tag', tag: reference }
}

/** What a /v2 path (after `/v2/`) asks for. `name` is not validated yet. */
export type Endpoint =
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }

/**
 * Splits `path` the way distribution's router does: the endpoint is recognised from the end
 * (`.../tags/list`, `.../blobs/uploads/`, `.../blobs/uploads/<id>`, `.../blobs/<digest>`,
 * `.../manifests/<ref>`, `.../referrers/<digest>`), so a name may itself contain `blobs` or
 * `manifests` as a component. Returns null for a path that is no endpoint.
 */
export function parseV2Path(path: string): Endpoint | null {
  const segments = path.split('/')
  const n = segments.length
  const at = (i: number): string | undefined => segments[n + i]
  const nameBefore = (count: number): string => segments.slice(0, n - count).join('/')
  if (n < 3) return null
  if (at(-2) === 'tags' && at(-1) === 'list') return { kind: 'tags', name: nameBefore(2) }
  if (at(-2) === 'blobs' && at(-1) === 'uploads') return { kind: 'uploads', name: nameBefore(2) }
  if (n >= 4 && at(-3) === 'blobs' && at(-2) === 'uploads') {
    const id = at(-1) as string
    return id === '' ? { kind: 'uploads', name: nameBefore(3) } : { kind: 'upload', name: nameBefore(3), id }
  }
  const last = at(-1) as string
  if (last === '') return null
  if (at(-2) === 'blobs') return { kind: 'blob', name: nameBefore(2), digest: last }
  if (at(-2) === 'manifests') return { kind: 'manifest', name: nameBefore(2), reference: last }
  if (at(-2) === 'referrers') return { kind: 'referrers', name: nameBefore(2), digest: last }
  return null
}

/**
 * The stored repository an OCI name stands for. Under `<namespace>/` a name is a pack
 * (kind 'pack', stored under the pack name); anything else is a plain OCI repository stored
 * under its full name. `oci` is always the full name clients use.
 */
export interface RepositoryLocator {
  kind: 'pack' | 'oci'
  name: string
  oci: string
}

/**
 * `checkPackName` is the pack layer's name rule (stricter than an OCI path component); it is
 * handed down so this module knows nothing of packs but their place in the namespace.
 */
export function locateRepository(name: string, namespace: string, checkPackName: (name: string) => void): RepositoryLocator {
  validateRepositoryName(name)
  const prefix = `${namespace}/`
  if (name.startsWith(prefix)) {
    const pack = name.slice(prefix.length)
    if (pack.includes('/')) {
      throw new RegistryError('NAME_INVALID', `${JSON.stringify(name)}: repositories under ${namespace}/ are packs, named by a single pack name`, { name })
    }
    checkPackName(pack)
    return { kind: 'pack', name: pack, oci: name }
  }
  return { kind: 'oci', name, oci: name }
}
