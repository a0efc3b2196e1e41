import t from 'tap'
import { PassThrough, Readable } from 'node:stream'
import { formatTable, parseOutput } from '../../src/cli/output.js'
import { formatBytes, renderBar, startProgress } from '../../src/cli/progress.js'
import { UsageError } from '../../src/cli/command.js'

t.test('tables pad columns and trim line ends', async (t) => {
  t.equal(formatTable(['A', 'LONGER'], [['wide-cell', 'x'], ['b', '']]), 'A          LONGER\nwide-cell  x\nb\n')
  t.equal(formatTable(['NAME', 'TAG'], []), 'NAME  TAG\n')
})

t.test('--output takes json only', async (t) => {
  t.equal(parseOutput(undefined), false)
  t.equal(parseOutput('json'), true)
  t.throws(() => parseOutput('yaml'), { constructor: UsageError, message: '--output takes "json", not "yaml"' })
})

t.test('progress bar: drawn on stderr only when stdout is a terminal', async (t) => {
  t.equal(formatBytes(512), '512 B')
  t.equal(formatBytes(1536), '1.5 KiB')
  t.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB')
  t.equal(renderBar('Pushing x', 50, 100), `Pushing x [${'='.repeat(15)}${' '.repeat(15)}]  50% 50 B / 100 B`)
  t.equal(renderBar('Pushing x', 0, 0), `Pushing x [${'='.repeat(30)}] 100% 0 B / 0 B`)

  const collect = (isTTY: boolean) => {
    const stdout = Object.assign(new PassThrough(), { isTTY })
    const stderr = new PassThrough()
    let err = ''
    stderr.on('data', (d: Buffer) => (err += d.toString()))
    const p = startProgress({ stdout, stderr, stdin: Readable.from([]), env: {} }, 'Pushing x', 100)
    p.update(40)
    p.update(100)
    p.done()
    return err
  }
  t.equal(collect(false), '', 'nothing when stdout is not a terminal')
  const drawn = collect(true)
  t.match(drawn, /^\rPushing x \[=+ *\]  40% 40 B \/ 100 B\x1b\[K/)
  t.match(drawn, /\rPushing x \[={30}\] 100% 100 B \/ 100 B\x1b\[K\n$/, 'ends on the full bar and a newline')
})
