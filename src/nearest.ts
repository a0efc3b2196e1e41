// The nearest of some known words to one typed: the "did you mean" of mistyped commands,
// flags, config keys and REGISTRY_* variables, for the CLI and the config alike.

/**
 * The candidate nearest to `typed`: one that starts with it (an abbreviation), else the one
 * within a third of its length in edits (a typo), else none.
 */
export function closest(typed: string, candidates: string[]): string | undefined {
  const prefixed = candidates.filter((c) => c.startsWith(typed))
  if (prefixed.length === 1) return prefixed[0]
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate)
    if (best === undefined || distance < best.distance) best = { candidate, distance }
  }
  return best !== undefined && best.distance <= Math.max(1, Math.floor(typed.length / 3)) ? best.candidate : undefined
}

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  const at = (i: number, j: number) => (rows[i] as number[])[j] as number
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1)
      row[j] = d
    }
  }
  return at(a.length, b.length)
}
