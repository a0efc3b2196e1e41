import t from 'tap'
import { formatTable, parseOutput } from '../../src/cli/output.js'
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
