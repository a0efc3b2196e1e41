// Version labels: which tag labels are versions, and how versions order. Pack versions in the
// wild are looser than semver (`1.5`, `22.04`, `v1.1.0`), and Palette shows them normalised
// (`22.04` is 22.4.0), so parsing is lenient and ordering is semver precedence.

export interface PackVersion {
  major: number
  minor: number
  patch: number
  prerelease: string[]
  build: string[]
  /** `M.m.p[-pre][+build]`, a valid semver string. */
  normalized: string
}

// The identifier classes exclude "." and "+", so this cannot backtrack badly on long input.
const VERSION =
  /^[vV]?(\d+)(?:\.(\d+)(?:\.(\d+))?)?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/

const NUMERIC = /^\d+$/

function versionNumber(digits: string | undefined): number | null {
  if (digits === undefined) return 0
  const n = Number(digits)
  return n <= Number.MAX_SAFE_INTEGER ? n : null
}

/**
 * Semver forbids leading zeros in numeric prerelease identifiers; we accept them like in the
 * numeric parts and drop them, so the normalised string stays valid semver.
 */
function normalizeIdentifier(id: string): string {
  return NUMERIC.test(id) ? id.replace(/^0+(?=\d)/, '') : id
}

export function parseVersion(label: string): PackVersion | null {
  const m = VERSION.exec(label)
  if (m === null) return null
  const major = versionNumber(m[1])
  const minor = versionNumber(m[2])
  const patch = versionNumber(m[3])
  if (major === null || minor === null || patch === null) return null
  const prerelease = m[4] === undefined ? [] : m[4].split('.').map(normalizeIdentifier)
  const build = m[5] === undefined ? [] : m[5].split('.')
  const normalized =
    `${major}.${minor}.${patch}` +
    (prerelease.length > 0 ? `-${prerelease.join('.')}` : '') +
    (build.length > 0 ? `+${build.join('.')}` : '')
  return { major, minor, patch, prerelease, build, normalized }
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0
}

/** Identifiers hold no leading zeros here, so longer means larger, at any size. */
function compareNumeric(a: string, b: string): number {
  return a.length !== b.length ? sign(a.length - b.length) : a < b ? -1 : a > b ? 1 : 0
}

function compareIdentifiers(a: string, b: string): number {
  const aNumeric = NUMERIC.test(a)
  const bNumeric = NUMERIC.test(b)
  if (aNumeric && bNumeric) return compareNumeric(a, b)
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Semver precedence: -1, 0 or 1. Build metadata never counts. */
export function compareVersions(a: PackVersion, b: PackVersion): number {
  const core = sign(a.major - b.major) || sign(a.minor - b.minor) || sign(a.patch - b.patch)
  if (core !== 0) return core
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return sign(b.prerelease.length - a.prerelease.length)
  }
  for (const [i, left] of a.prerelease.entries()) {
    const right = b.prerelease[i]
    if (right === undefined) break
    const c = compareIdentifiers(left, right)
    if (c !== 0) return c
  }
  return sign(a.prerelease.length - b.prerelease.length)
}
