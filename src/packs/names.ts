// Pack names: the one grammar every surface (the v1 API, the OCI view, the CLI) accepts for a
// pack. It is the lowercase subset of an OCI repository path component, so a pack name is
// always usable as `spectro-packs/archive/<name>` without escaping.

import { RegistryError } from '../errors.js'

export const PACK_NAME_MAX = 128

const PACK_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/

/**
 * What is wrong with `name` as a pack name, phrased to follow the name in a sentence, or null
 * when it is valid. Shared so pack.json validation can report the same rule under its own code.
 */
export function packNameProblem(name: string): string | null {
  // The length check comes first so the pattern never runs on unbounded input.
  if (name.length > PACK_NAME_MAX) {
    return `is ${name.length} characters long; a pack name is at most ${PACK_NAME_MAX} characters`
  }
  if (!PACK_NAME.test(name)) {
    return 'must match [a-z0-9]+([._-][a-z0-9]+)*: lowercase letters and digits, in runs joined by single ".", "_" or "-"'
  }
  return null
}

export function validatePackName(name: string): void {
  const problem = packNameProblem(name)
  if (problem !== null) {
    throw new RegistryError('NAME_INVALID', `pack name ${JSON.stringify(name)} ${problem}`, { name })
  }
}
