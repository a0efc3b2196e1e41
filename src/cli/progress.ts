// The upload progress bar: one line on stderr, drawn only when stderr is a terminal (a script
// capturing the output gets no control characters at all). The line fits the terminal's width,
// read again at every redraw so a resized window is followed, and never reaches the last column
// (where some terminals wrap at once). It is redrawn in place (carriage return, then erase to
// the end of the line) at most ten times a second, and finishes as one line.

import { formatBytes } from '../format.js'
import type { Io } from './command.js'

export interface Progress {
  update(bytes: number): void
  done(): void
}

const REDRAW_MS = 100
const MIN_BAR = 10
const MIN_LABEL = 12
const MAX_BAR = 40
const DEFAULT_COLUMNS = 80

/** `text`, cut to `width` characters with an ellipsis when it is longer. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text
  return width <= 1 ? text.slice(0, Math.max(width, 0)) : `${text.slice(0, width - 1)}…`
}

/**
 * `LABEL [=====     ]  42% 1.2 MiB / 3.0 MiB` in fewer than `columns` characters: the bar
 * shrinks first, then the label; where both would be too short to read, the bar goes and the
 * label and numbers remain.
 */
export function renderBar(label: string, bytes: number, total: number, columns: number): string {
  const fraction = total > 0 ? Math.min(bytes / total, 1) : 1
  const numbers = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${formatBytes(bytes)} / ${formatBytes(total)}`
  const width = Math.max(columns - 1, 1)
  const room = width - numbers.length - 3
  if (room - MIN_BAR < Math.min(label.length, MIN_LABEL)) {
    return width > numbers.length ? `${fit(label, width - numbers.length)}${numbers}` : fit(numbers.trimStart(), width)
  }
  const barWidth = Math.max(MIN_BAR, Math.min(MAX_BAR, room - label.length))
  const filled = Math.round(fraction * barWidth)
  return `${fit(label, room - barWidth)} [${'='.repeat(filled)}${' '.repeat(barWidth - filled)}]${numbers}`
}

const NO_PROGRESS: Progress = { update() {}, done() {} }

export function startProgress(io: Io, label: string, total: number): Progress {
  const terminal = io.stderr as { isTTY?: boolean; columns?: number }
  if (terminal.isTTY !== true) return NO_PROGRESS
  let drawnAt = Number.NEGATIVE_INFINITY
  let shown = 0
  const draw = () => io.stderr.write(`\r${renderBar(label, shown, total, terminal.columns || DEFAULT_COLUMNS)}\x1b[K`)
  return {
    update(bytes) {
      shown = bytes
      const now = performance.now()
      if (now - drawnAt >= REDRAW_MS) {
        drawnAt = now
        draw()
      }
    },
    done() {
      draw()
      io.stderr.write('\n')
    },
  }
}
