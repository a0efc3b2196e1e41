// Rounds, samples and figures. Every figure is the median of its rounds with min and max, per
// registry. Rounds alternate which registry goes first, so drift on the machine (page cache,
// thermal state, a neighbour's job) lands on both rather than on whoever always runs second.

import type { RegistryKind } from './registries.js'

export interface Stat {
  median: number
  min: number
  max: number
  values: number[]
}

/**
 * What is asked of a figure: the Packyard/reference ratio at least (throughput) or at most
 * (latency) some value, a Packyard-only ceiling every round must stay under (memory), or a
 * ceiling or floor on the median of the rounds (latencies and rates without a reference).
 */
export type Target =
  | { kind: 'ratio-at-least'; ratio: number }
  | { kind: 'ratio-at-most'; ratio: number }
  | { kind: 'max-at-most'; value: number }
  | { kind: 'median-at-most'; value: number }
  | { kind: 'median-at-least'; value: number }

export interface Figure {
  scenario: string
  name: string
  unit: string
  packyard: Stat
  /** null for Packyard-only figures */
  reference: Stat | null
  target: Target | null
}

export function stat(values: number[]): Stat {
  if (values.length === 0) throw new Error('a figure without samples')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, values }
}

export function ratio(figure: Figure): number | null {
  return figure.reference && figure.reference.median !== 0 ? figure.packyard.median / figure.reference.median : null
}

export function targetMet(figure: Figure): boolean | null {
  const t = figure.target
  if (!t) return null
  if (t.kind === 'max-at-most') return figure.packyard.max <= t.value
  if (t.kind === 'median-at-most') return figure.packyard.median <= t.value
  if (t.kind === 'median-at-least') return figure.packyard.median >= t.value
  const r = ratio(figure)
  if (r === null) return null
  return t.kind === 'ratio-at-least' ? r >= t.ratio : r <= t.ratio
}

/**
 * One registry measured against two others at once (Packyard on S3 against Packyard on the
 * filesystem and against the reference on S3): each comparison in its own Samples, the
 * subject's value in both, each other registry's value as the reference column of its own.
 */
export class TwoComparisons<R> {
  readonly first = new Samples()
  readonly second = new Samples()

  constructor(private readonly subject: R, private readonly firstOther: R) {}

  add(key: string, registry: R, value: number): void {
    if (registry === this.subject) {
      this.first.add(key, 'packyard', value)
      this.second.add(key, 'packyard', value)
    } else if (registry === this.firstOther) this.first.add(key, 'reference', value)
    else this.second.add(key, 'reference', value)
  }
}

/** Collects one value per registry per round for each named measurement. */
export class Samples {
  private readonly values = new Map<string, Record<RegistryKind, number[]>>()

  add(key: string, kind: RegistryKind, value: number): void {
    if (!Number.isFinite(value)) throw new Error(`${kind}: ${key} measured ${value}`)
    let entry = this.values.get(key)
    if (!entry) {
      entry = { packyard: [], reference: [] }
      this.values.set(key, entry)
    }
    entry[kind].push(value)
  }

  figure(key: string, meta: { scenario: string; name: string; unit: string; target: Target | null }): Figure {
    const entry = this.values.get(key)
    if (!entry) throw new Error(`no samples for ${key}`)
    return { ...meta, packyard: stat(entry.packyard), reference: entry.reference.length > 0 ? stat(entry.reference) : null }
  }
}

/** The registries (or whatever takes turns) in the order they run in `round`: as given in even rounds, reversed in odd ones. */
export function roundOrder<T>(turns: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...turns] : [...turns].reverse()
}

export function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9
}
