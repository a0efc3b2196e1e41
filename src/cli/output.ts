// What client commands print for people and for scripts: `--output json` parsing, plain text
// tables (columns padded to their widest cell, two spaces apart, like docker's lists) and the
// short forms of digests and times in their cells.

import { UsageError } from './command.js'

/** `--output json` is the one machine format; anything else is a typo worth reporting. */
export function parseOutput(output: string | undefined): boolean {
  if (output === undefined) return false
  if (output !== 'json') throw new UsageError(`--output takes "json", not ${JSON.stringify(output)}`)
  return true
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [header, ...rows].map(line).join('\n') + '\n'
}

/** The first 12 hex digits, as docker shows image ids. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12)
}

/** `2026-11-23T06:00:00Z`: UTC, to the second, the same on every machine. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '-'
  const time = new Date(iso)
  return Number.isNaN(time.getTime()) ? iso : `${time.toISOString().slice(0, 19)}Z`
}
