// Which upstream tags a mirror copies (sync.registries[].content, DESIGN §10): pure rules, no I/O.
// Only version tags (`[group__]1.2.3`) are copied: parent tags (`1.x`) are computed here from the
// versions copied, and aliases (`stable`) name no version a range could select.

import { satisfies } from 'semver'
import type { SyncContentRule } from '../config/sync.js'
import { parseTag, isParentLabel } from './tags.js'
import { parseVersion } from './versions.js'

export type TagSelection = { selected: true } | { selected: false; why: 'parent' | 'alias' | 'invalid' | 'rules' }

/** Whether `name:tag` of an upstream is mirrored under `rules` (none: everything). */
export function selectTag(rules: SyncContentRule[], name: string, tag: string): TagSelection {
  let label: string
  try {
    label = parseTag(tag).label
  } catch {
    return { selected: false, why: 'invalid' }
  }
  if (isParentLabel(label)) return { selected: false, why: 'parent' }
  const version = parseVersion(label)
  if (version === null) return { selected: false, why: 'alias' }
  if (rules.length === 0) return { selected: true }
  const ok = rules.some(
    (rule) =>
      (rule.packs.length === 0 || rule.packs.some((glob) => globMatches(glob, name))) &&
      (rule.versions === null || satisfies(version.normalized, rule.versions, { includePrerelease: true })) &&
      (rule.tags === null || rule.tags.test(tag)) &&
      (rule.excludeTags === null || !rule.excludeTags.test(tag)),
  )
  return ok ? { selected: true } : { selected: false, why: 'rules' }
}

/** Whether any rule could select a tag of pack `name`: the others' tag lists are not even read. */
export function packMayMatch(rules: SyncContentRule[], name: string): boolean {
  return rules.length === 0 || rules.some((rule) => rule.packs.length === 0 || rule.packs.some((glob) => globMatches(glob, name)))
}

/** `*` is any run of characters, `?` one; everything else is itself. */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${pattern}$`).test(name)
}
