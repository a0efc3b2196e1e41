// The upload progress bar: one line on stderr, redrawn in place, shown only when stdout is a
// terminal (a script capturing stdout gets clean output and no control characters anywhere).

import type { Io } from './command.js'

export interface Progress {
  update(bytes: number): void
  done(): void
}

const WIDTH = 30
const REDRAW_MS = 100

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

export function renderBar(label: string, bytes: number, total: number): string {
  const fraction = total > 0 ? Math.min(bytes / total, 1) : 1
  const filled = Math.round(fraction * WIDTH)
  return `${label} [${'='.repeat(filled)}${' '.repeat(WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${formatBytes(bytes)} / ${formatBytes(total)}`
}

const NO_PROGRESS: Progress = { update() {}, done() {} }

export function startProgress(io: Io, label: string, total: number): Progress {
  if ((io.stdout as { isTTY?: boolean }).isTTY !== true) return NO_PROGRESS
  let last = 0
  let shown = 0
  const draw = (bytes: number) => io.stderr.write(`\r${renderBar(label, bytes, total)}\x1b[K`)
  return {
    update(bytes) {
      shown = bytes
      const now = Date.now()
      if (now - last >= REDRAW_MS) {
        last = now
        draw(bytes)
      }
    },
    done() {
      draw(shown)
      io.stderr.write('\n')
    },
  }
}
