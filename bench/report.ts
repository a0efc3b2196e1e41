// The bench's output: a Markdown table on stdout (it pastes into the README as it is), with
// both registries' medians and ranges, the Packyard/reference ratio and whether the issue's
// target is met; and the same figures as JSON with what is needed to compare runs later (the
// machine, versions, date, settings, round counts, every round's value).

import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { dirname } from 'node:path'
import { VERSION } from '../src/version.js'
import type { Settings } from './context.js'
import { type Figure, ratio, type Stat, targetMet } from './stats.js'

function formatNumber(n: number): string {
  const abs = Math.abs(n)
  if (abs >= 100) return Math.round(n).toLocaleString('en-US')
  if (abs >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

function cell(s: Stat | null): string {
  if (!s) return '-'
  if (s.values.length === 1) return formatNumber(s.median)
  return `${formatNumber(s.median)} (${formatNumber(s.min)}-${formatNumber(s.max)})`
}

function targetText(f: Figure): string {
  const t = f.target
  if (!t) return ''
  if (t.kind === 'ratio-at-least') return `>= ${t.ratio}x ref`
  if (t.kind === 'ratio-at-most') return `<= ${t.ratio}x ref`
  const value = `${t.value.toLocaleString('en-US')} ${f.unit}`
  if (t.kind === 'max-at-most') return `<= ${value} every round`
  if (t.kind === 'median-at-most') return `<= ${value}`
  return `>= ${value}`
}

function metText(met: boolean | null): string {
  if (met === null) return ''
  return met ? 'met' : 'MISSED'
}

export function table(figures: Figure[]): string {
  const rows = [['scenario', 'figure', 'unit', 'Packyard median (min-max)', 'reference median (min-max)', 'Packyard/ref', 'target', 'met']]
  for (const f of figures) {
    const r = ratio(f)
    rows.push([f.scenario, f.name, f.unit, cell(f.packyard), cell(f.reference), r === null ? '-' : `${formatNumber(r)}x`, targetText(f), metText(targetMet(f))])
  }
  return markdownTable(rows)
}

/** Rows (the first is the header) as a Markdown table with aligned columns: it pastes into the README as it is. */
export function markdownTable(rows: string[][]): string {
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((row) => (row[c] as string).length)))
  const line = (row: string[]) => `| ${row.map((v, c) => v.padEnd(widths[c] as number)).join(' | ')} |`
  return [line(rows[0] as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}

/** What a command prints, trimmed; null when it cannot run or fails. */
export function commandOutput(command: string, args: string[]): string | null {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

export interface RunInfo {
  mode: 'full' | 'quick'
  settings: Settings
  scenarios: string[]
  /** where the listing pair kept its data (tmpfs unless the machine has none) */
  listingStorage: string
  startedAt: Date
  loadAtStart: number[]
  seconds: number
}

export function writeResults(path: string, run: RunInfo, figures: Figure[]): void {
  const cpu = cpus()
  const document = {
    date: run.startedAt.toISOString(),
    mode: run.mode,
    seconds: Math.round(run.seconds),
    rounds: run.settings.rounds,
    scenarios: run.scenarios,
    settings: run.settings,
    listingStorage: run.listingStorage,
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memoryGB: Math.round(totalmem() / 1e9),
      kernel: release(),
      // the 1-minute load average before and after: what else was running
      loadAtStart: run.loadAtStart,
      loadAtEnd: loadavg(),
    },
    versions: {
      node: process.version,
      packyard: VERSION,
      commit: commandOutput('git', ['rev-parse', '--short', 'HEAD']),
      reference: commandOutput('docker-registry', ['--version']),
    },
    figures: figures.map((f) => ({ ...f, ratio: ratio(f), targetMet: targetMet(f) })),
  }
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`)
}
