import t from 'tap'
import { Readable } from 'node:stream'
import { formatBytes } from '../../src/format.js'
import { renderBar, startProgress } from '../../src/cli/progress.js'
import { captureStream } from '../helpers.js'

/** The terminal's view of what was drawn: lines, each as it ends up after its carriage returns. */
function screenLines(drawn: string): string[] {
  return drawn.split('\n').map((line) => (line.split('\r').pop() as string).replace(/\x1b\[K/g, ''))
}

function drawOn(stderr: ReturnType<typeof captureStream>, label: string, total: number, updates: number[]): string {
  const progress = startProgress({ stdout: captureStream(), stderr, stdin: Readable.from([]), env: {} }, label, total)
  for (const bytes of updates) progress.update(bytes)
  progress.done()
  return stderr.text()
}

t.test('sizes', async (t) => {
  t.equal(formatBytes(512), '512 B')
  t.equal(formatBytes(1536), '1.5 KiB')
  t.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB')
})

t.test('the bar fits the width it is given, shrinking the bar, then the label', async (t) => {
  t.equal(renderBar('Pushing x', 50, 100, 80), `Pushing x [${'='.repeat(20)}${' '.repeat(20)}]  50% 50 B / 100 B`)
  t.equal(renderBar('Pushing x', 0, 0, 80), `Pushing x [${'='.repeat(40)}] 100% 0 B / 0 B`, 'an empty upload is complete')
  const label = `Pushing ${'a-very-long-pack-name'.repeat(4)}-1.0.0.tar.gz`
  for (const columns of [200, 120, 80, 60, 40, 30, 20, 10, 2, 1]) {
    const line = renderBar(label, 3 * 1024 * 1024, 48 * 1024 * 1024, columns)
    t.ok(line.length < Math.max(columns, 2), `${columns} columns: ${JSON.stringify(line)}`)
  }
  t.match(renderBar(label, 3 * 1024 * 1024, 48 * 1024 * 1024, 80), /^Pushing a-very-long.*… \[=+ +\]   6% 3\.0 MiB \/ 48\.0 MiB$/)
  t.equal(renderBar('Pushing x', 1, 2, 30), 'Pushing x  50% 1 B / 2 B', 'too narrow for a bar: label and numbers')
})

t.test('on an 80-column terminal: redrawn in place, at most 10 times a second, one final line', async (t) => {
  const stderr = captureStream({ columns: 80 })
  const total = 48 * 1024 * 1024
  const updates = Array.from({ length: 2000 }, (_, i) => Math.round(((i + 1) / 2000) * total))
  const drawn = drawOn(stderr, `Pushing ${'x'.repeat(100)}.tar.gz`, total, updates)
  t.equal(drawn.split('\n').length, 2, 'one newline, at the very end')
  t.ok(drawn.endsWith('\n'))
  const redraws = drawn.split('\r').length - 1
  t.ok(redraws <= 3, `2000 updates within a few milliseconds are ${redraws} redraws, not one each`)
  for (const segment of drawn.split(/[\r\n]/)) t.ok(segment.replace(/\x1b\[K/g, '').length < 80, `no line reaches column 80: ${segment.length}`)
  t.match(screenLines(drawn)[0], /\[={10,}\] 100% 48\.0 MiB \/ 48\.0 MiB$/, 'it ends on the full bar')
})

t.test('the width is read again at every redraw', async (t) => {
  const stderr = captureStream({ columns: 120 })
  const progress = startProgress({ stdout: captureStream(), stderr, stdin: Readable.from([]), env: {} }, 'Pushing x', 100)
  progress.update(10)
  Object.assign(stderr, { columns: 40 })
  progress.done()
  const [wide, narrow] = stderr.text().split('\r').slice(1)
  t.ok((wide as string).length > 60)
  t.ok((narrow as string).replace(/\x1b\[K\n$/, '').length < 40, 'the window shrank to 40 columns')
})

t.test('nothing at all when stderr is not a terminal', async (t) => {
  t.equal(drawOn(captureStream(), 'Pushing x', 100, [40, 100]), '')
})
