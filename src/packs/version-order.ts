// How a pack's versions are ordered for people: newest first by semantic-version precedence
// (the order parent tags follow), versions that are not semantic after all of those, newest
// write first; equal versions by write order too. Groups (`LTS`, ...) keep their versions apart:
// ungrouped versions come first, then each group by name.

import { compareVersions, parseVersion } from './versions.js'

export interface OrderableVersion {
  version: string
  group: string | null
  /** Larger was written later (a time or a tag sequence number). */
  written: number
}

export interface VersionGroup<T> {
  group: string | null
  versions: T[]
}

/** Negative when `a` comes first, i.e. when `a` is newer. */
export function newerFirst(a: OrderableVersion, b: OrderableVersion): number {
  const va = parseVersion(a.version)
  const vb = parseVersion(b.version)
  if (va && vb) {
    const c = compareVersions(vb, va)
    if (c !== 0) return c
  } else if (va || vb) {
    return va ? -1 : 1
  }
  return b.written - a.written
}

function compareGroups(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  const folded = a.toLowerCase().localeCompare(b.toLowerCase(), 'en')
  return folded !== 0 ? folded : a < b ? -1 : 1
}

/** The versions by group, each group newest first. */
export function groupVersions<T extends OrderableVersion>(versions: readonly T[]): VersionGroup<T>[] {
  const groups = new Map<string | null, T[]>()
  for (const v of versions) {
    const list = groups.get(v.group)
    if (list) list.push(v)
    else groups.set(v.group, [v])
  }
  return [...groups.entries()]
    .sort(([a], [b]) => compareGroups(a, b))
    .map(([group, list]) => ({ group, versions: [...list].sort(newerFirst) }))
}

/** Whether the version is a semantic pre-release (`2.6.0-rc.1`). */
export function isPrerelease(version: string): boolean {
  return (parseVersion(version)?.prerelease.length ?? 0) > 0
}

/** Releases first, then pre-releases, then labels that are no version at all. */
function rank(version: string): number {
  const parsed = parseVersion(version)
  return parsed === null ? 0 : parsed.prerelease.length > 0 ? 1 : 2
}

/**
 * The newest release whatever its group, as parent tags pick it: a pre-release only when there
 * is no release at all, a label that is no version only when there is neither; undefined when
 * there is nothing.
 */
export function newestVersion<T extends OrderableVersion>(versions: readonly T[]): T | undefined {
  let best: T | undefined
  for (const v of versions) {
    if (best === undefined || rank(v.version) > rank(best.version) || (rank(v.version) === rank(best.version) && newerFirst(v, best) < 0)) best = v
  }
  return best
}
