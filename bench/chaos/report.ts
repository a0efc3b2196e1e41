// The campaign's figures and its output. Every figure carries its rule: must be 0, must be true,
// must be positive (a category that acknowledged nothing proved nothing), must stay below or
// reach a bound, or informative. The table on stdout has one line per figure with its verdict (OK,
// FAIL, NOT RUN); the JSON file keeps the same figures with the machine, date and commit, plus
// the details behind every non-zero must-be-0 figure (which request, what it got).

import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { dirname } from 'node:path'
import { VERSION } from '../../src/version.js'
import { commandOutput, markdownTable } from '../report.js'

export type Rule = { kind: 'zero' } | { kind: 'true' } | { kind: 'positive' } | { kind: 'below'; bound: number } | { kind: 'atLeast'; bound: number } | { kind: 'info' }

export const ZERO: Rule = { kind: 'zero' }
export const TRUE: Rule = { kind: 'true' }
export const POSITIVE: Rule = { kind: 'positive' }
export const INFO: Rule = { kind: 'info' }
export const below = (bound: number): Rule => ({ kind: 'below', bound })
export const atLeast = (bound: number): Rule => ({ kind: 'atLeast', bound })

export interface Figure {
  category: string
  name: string
  /** null: the category did not run */
  value: number | boolean | null
  unit?: string
  rule: Rule
}

export type Verdict = 'OK' | 'FAIL' | 'NOT RUN' | ''

export function verdict(f: Figure): Verdict {
  if (f.rule.kind === 'info') return ''
  if (f.value === null) return 'NOT RUN'
  switch (f.rule.kind) {
    case 'zero':
      return f.value === 0 ? 'OK' : 'FAIL'
    case 'true':
      return f.value === true ? 'OK' : 'FAIL'
    case 'positive':
      return typeof f.value === 'number' && f.value > 0 ? 'OK' : 'FAIL'
    case 'below':
      return typeof f.value === 'number' && f.value < f.rule.bound ? 'OK' : 'FAIL'
    case 'atLeast':
      return typeof f.value === 'number' && f.value >= f.rule.bound ? 'OK' : 'FAIL'
  }
}

function ruleText(rule: Rule, unit: string | undefined): string {
  switch (rule.kind) {
    case 'zero':
      return 'must be 0'
    case 'true':
      return 'must be yes'
    case 'positive':
      return 'must be > 0'
    case 'below':
      return `must be < ${rule.bound}${unit === '%' ? ' %' : ''}`
    case 'atLeast':
      return `must be >= ${rule.bound}`
    case 'info':
      return ''
  }
}

function valueText(f: Figure): string {
  if (f.value === null) return '-'
  if (typeof f.value === 'boolean') return f.value ? 'yes' : 'no'
  const n = Number.isInteger(f.value) ? f.value.toLocaleString('en-US') : f.value.toFixed(Math.abs(f.value) >= 100 ? 0 : Math.abs(f.value) >= 10 ? 1 : 2)
  return f.unit ? `${n} ${f.unit}` : n
}

/** A Markdown table, as the bench prints it: it pastes into the README as it is. */
export function table(figures: Figure[]): string {
  const rows = [['category', 'figure', 'value', 'rule', 'verdict']]
  for (const f of figures) rows.push([f.category, f.name, valueText(f), ruleText(f.rule, f.unit), verdict(f)])
  return markdownTable(rows)
}

export function failed(figures: Figure[]): Figure[] {
  return figures.filter((f) => verdict(f) === 'FAIL')
}

export interface RunInfo {
  mode: 'full' | 'quick'
  categories: string[]
  startedAt: Date
  seconds: number
  settings: unknown
}

export function writeResults(path: string, run: RunInfo, figures: Figure[], details: Record<string, string[]>): void {
  const cpu = cpus()
  const document = {
    date: run.startedAt.toISOString(),
    mode: run.mode,
    seconds: Math.round(run.seconds),
    categories: run.categories,
    settings: run.settings,
    machine: { cpu: cpu[0]?.model ?? 'unknown', cpus: cpu.length, memoryGB: Math.round(totalmem() / 1e9), kernel: release(), node: process.version },
    versions: {
      packyard: VERSION,
      commit: commandOutput('git', ['rev-parse', '--short', 'HEAD']),
      dirty: (commandOutput('git', ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
    },
    figures: figures.map((f) => ({ ...f, verdict: verdict(f) })),
    details,
  }
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`)
}
