// What client commands print for people and for scripts: `--output json` parsing and plain
// text tables (columns padded to their widest cell, two spaces apart, like docker's lists).

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
