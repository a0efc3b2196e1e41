// Tag grammar: `tag = [group "__"] label`. Parses and builds tags, decides which tag a push
// gets from pack.json's group and version, and keeps the `.x` labels that the registry
// manages (parent tags) out of users' hands.

import { RegistryError } from '../errors.js'

export interface ParsedTag {
  tag: string
  group: string | null
  label: string
}

export const TAG_MAX = 128
const SEPARATOR = '__'
const PARENT_SUFFIX = '.x'

/** Why `part` cannot be a group or a label, phrased to follow "it"/"its label", or null. */
function partProblem(part: string): string | null {
  if (part === '') return 'is empty'
  if (!/^[A-Za-z0-9]/.test(part)) return 'must start with a letter or a digit'
  const bad = /[^A-Za-z0-9._-]/u.exec(part)
  if (bad !== null) {
    return `contains ${JSON.stringify(bad[0])}; only letters, digits, ".", "_" and "-" are allowed`
  }
  return null
}

function packJsonError(field: string, message: string): RegistryError {
  return new RegistryError('PACK_INVALID', `pack.json: ${field} ${message}`, { file: 'pack.json', field })
}

/**
 * pack.json's `group`, reduced to what the tag uses: absent, empty or blank means no group
 * (real packs ship `""` and `" "`); anything else is kept exactly, case included, because
 * Palette profiles reference tags such as `LTS__22.4.x` verbatim.
 */
export function normalizeGroup(group: unknown): string | null {
  if (group === undefined || group === null) return null
  if (typeof group !== 'string') {
    const kind = Array.isArray(group) ? 'an array' : typeof group === 'object' ? 'an object' : `a ${typeof group}`
    throw packJsonError('group', `must be a string, got ${kind}`)
  }
  if (group.trim() === '') return null
  const problem = partProblem(group)
  if (problem !== null) {
    throw packJsonError('group', `${JSON.stringify(group)} cannot be used in a tag: it ${problem}`)
  }
  if (group.includes(SEPARATOR)) {
    throw packJsonError('group', `${JSON.stringify(group)} must not contain "__", which separates the group from the label in a tag`)
  }
  return group
}

export function parseTag(tag: string): ParsedTag {
  const invalid = (what: string) =>
    new RegistryError('TAG_INVALID', `tag ${JSON.stringify(tag)} is invalid: ${what}`, { tag })
  if (tag === '') throw invalid('it is empty')
  if (tag.length > TAG_MAX) {
    throw invalid(`it is ${tag.length} characters long; a tag is at most ${TAG_MAX} characters`)
  }
  const at = tag.indexOf(SEPARATOR)
  const group = at === -1 ? null : tag.slice(0, at)
  const label = at === -1 ? tag : tag.slice(at + SEPARATOR.length)
  const groupProblem = group === null ? null : partProblem(group)
  if (groupProblem !== null) throw invalid(`its group (before "__") ${groupProblem}`)
  const labelProblem = partProblem(label)
  if (labelProblem !== null) throw invalid(`its label ${labelProblem}`)
  if (label.includes(SEPARATOR)) {
    throw invalid('it contains "__" more than once; a tag is [group "__"] label and neither part may contain "__"')
  }
  return { tag, group, label }
}

/** Joins a group and a label; a null or empty group means an ungrouped tag. */
export function formatTag(group: string | null, label: string): string {
  return group ? `${group}${SEPARATOR}${label}` : label
}

export function isParentLabel(label: string): boolean {
  return label.endsWith(PARENT_SUFFIX)
}

/** A tag a user asks to create, move or delete: any valid tag except a parent tag. */
export function validateUserTag(tag: string): ParsedTag {
  const parsed = parseTag(tag)
  if (isParentLabel(parsed.label)) {
    throw new RegistryError(
      'TAG_PROTECTED',
      `tag ${JSON.stringify(tag)} is a parent tag: parent tags like 1.x and 1.0.x are managed by the registry and cannot be created, moved or deleted by users`,
      { tag },
    )
  }
  return parsed
}

/**
 * The tag a push of this pack.json gets. The version becomes the label as written (not
 * normalised), so it must itself satisfy the label grammar; a `.x` version is refused too,
 * because it would collide with the parent tags the registry derives.
 */
export function versionTagFor(group: string | null, version: string): string {
  const normalized = normalizeGroup(group)
  const problem =
    partProblem(version) ??
    (version.includes(SEPARATOR) ? 'contains "__", which separates a group from a label' : null) ??
    (isParentLabel(version) ? 'ends in ".x", which is reserved for parent tags' : null)
  if (problem !== null) {
    throw packJsonError('version', `${JSON.stringify(version)} cannot be used as a tag: it ${problem}`)
  }
  const tag = formatTag(normalized, version)
  if (tag.length > TAG_MAX) {
    throw packJsonError(
      'version',
      `${JSON.stringify(version)} with group ${JSON.stringify(normalized)} makes the tag ${JSON.stringify(tag)}, which is ${tag.length} characters long; a tag is at most ${TAG_MAX} characters`,
    )
  }
  return tag
}
