// Parent tags (`1.x`, `1.0.x`, `LTS__22.4.x`): derived, never stored by users. Given a pack's
// version and alias tags, computes the complete set of parent tags and what each points at,
// so the caller can replace the stored set in the same transaction as any tag change.
//
// Pre-releases (`2.6.0-rc.1`) count only where a line holds no release, as npm's `^2` and Helm's
// `2.x` ranges: a profile pinned to `2.x` must never deploy a release candidate, so a parent tag
// never moves from a release to a pre-release; a line made only of pre-releases follows its
// newest one until the first release.

import { TAG_MAX, formatTag } from './tags.js'
import { compareVersions, parseVersion, type PackVersion } from './versions.js'

export interface VersionTagInput {
  tag: string
  group: string | null
  label: string
  /** Write order: bigger was written later. */
  seq: number
}

export interface ParentTag {
  tag: string
  group: string | null
  /** `M.x` or `M.m.x`. */
  label: string
  /** The tag this parent points at. */
  target: string
}

interface Candidate {
  input: VersionTagInput
  version: PackVersion
}

function isRelease(v: PackVersion): boolean {
  return v.prerelease.length === 0
}

/** Releases first, then semver precedence, then the most recently written. */
function beats(a: Candidate, b: Candidate): boolean {
  if (isRelease(a.version) !== isRelease(b.version)) return isRelease(a.version)
  const c = compareVersions(a.version, b.version)
  return c > 0 || (c === 0 && a.input.seq > b.input.seq)
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function computeParentTags(tags: VersionTagInput[]): ParentTag[] {
  // Keyed by the parent tag itself, which already separates groups and the two levels.
  const best = new Map<string, { group: string | null; label: string; winner: Candidate }>()
  for (const input of tags) {
    const version = parseVersion(input.label)
    if (version === null) continue // an alias such as `stable`: no parents
    const candidate = { input, version }
    for (const label of [`${version.major}.x`, `${version.major}.${version.minor}.x`]) {
      const tag = formatTag(input.group, label)
      const current = best.get(tag)
      if (current === undefined) best.set(tag, { group: input.group, label, winner: candidate })
      else if (beats(candidate, current.winner)) current.winner = candidate
    }
  }
  return [...best]
    // A long group can push `group__M.m.x` past the tag limit even when the version tag fits;
    // such a tag could never be requested, so it is not created.
    .filter(([tag]) => tag.length <= TAG_MAX)
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([tag, { group, label, winner }]) => ({ tag, group, label, target: winner.input.tag }))
}

/** The parent tags pointing at `target`, sorted, for API output. */
export function parentTagsOf(target: string, parents: ParentTag[]): string[] {
  return parents
    .filter((p) => p.target === target)
    .map((p) => p.tag)
    .sort(byCodeUnits)
}
