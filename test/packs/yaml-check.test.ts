// The YAML check of a pack's values.yaml, presets.yaml and schema.yaml: what parses, and for
// what does not, the first problem with its line and column (the server runs it in a worker
// under a time budget: YamlChecker).

import t from 'tap'
import { YamlChecker } from '../../src/packs/yaml-checker.js'
import { YAML_FILES, yamlProblem } from '../../src/packs/yaml-check.js'

t.test('YAML_FILES are the files Palette parses', async (t) => {
  t.same(YAML_FILES, ['values.yaml', 'presets.yaml', 'schema.yaml'])
})

t.test('what parses is fine', async (t) => {
  const laughs = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  for (let i = 1; i <= 9; i++) laughs.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]`)
  const fine: Array<[string, string]> = [
    ['empty', ''],
    ['only a comment', '# nothing to set\n'],
    ['values with comments, lists and block scalars', 'pack:\n  namespace: hello # where\nimage:\n  tags: [a, "b"]\nscript: |\n  echo hi\n'],
    ['several documents', 'a: 1\n---\nb: 2\n'],
    ['1 and "1" are different keys', '1: a\n"1": b\n'],
    ['merge keys may repeat', 'base: &b {x: 1}\nm:\n  <<: *b\n  <<: *b\n'],
    ['keys repeated in different mappings', 'a:\n  k: 1\nb:\n  k: 2\n'],
    ['a billion laughs: aliases are not expanded', laughs.join('\n')],
    ['nested 500 deep', Array.from({ length: 500 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')],
    ['a byte-order mark', '\ufeffa: 1\n'],
  ]
  for (const [what, text] of fine) t.equal(yamlProblem('values.yaml', text), null, what)
})

t.test('what does not parse: the first problem, with its line and column', async (t) => {
  const broken: Array<[string, string, string]> = [
    ['an unclosed flow sequence', 'a: 1\nb: [1, 2\n', 'values.yaml: line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['an unclosed quote', 'pack:\n  image: "nginx\n', 'values.yaml: line 3, column 1: Missing closing "quote'],
    ['a mapping in a compact mapping', 'a: 1\nb:\n  c: 2\n   d: 3\n', 'values.yaml: line 3, column 6: Nested mappings are not allowed in compact mappings'],
    ['a tab as indentation', 'a:\n\tb: 1\n', 'values.yaml: line 2, column 1: Tabs are not allowed as indentation'],
    ['a duplicate key', 'a: 1\nb: 2\na: 3\n', 'values.yaml: line 3, column 1: duplicate key "a"'],
    ['a duplicate key deep down', 'x:\n  y:\n    - k: 1\n      k: 2\n', 'values.yaml: line 4, column 7: duplicate key "k"'],
    ['an alias to no anchor', 'a: 1\nb: *nope\n', 'values.yaml: line 2, column 4: alias *nope names no anchor'],
    ['the first of two problems', 'a: [\nb: 1\nb: 2\n', 'values.yaml: line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['a problem in the second document', 'a: 1\n---\nb: 1\nb: 2\n', 'values.yaml: line 4, column 1: duplicate key "b"'],
    ['nesting beyond the parser', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, 'values.yaml: line 1, column '],
  ]
  for (const [what, text, message] of broken) {
    const problem = yamlProblem('values.yaml', text)
    t.match(problem, { file: 'values.yaml', field: null }, what)
    t.ok(problem?.message.startsWith(message), `${what}: ${problem?.message}`)
  }
  t.match(yamlProblem('values.yaml', `${'['.repeat(20_000)}${']'.repeat(20_000)}`)?.message, /: nested too deeply$/)
  t.equal(yamlProblem('schema.yaml', 'a: [')?.message.startsWith('schema.yaml: line 1, column 5: '), true, 'the file is named')
})

t.test('the server checks in a worker: problems come back; past the budget a pack is left unchecked and the next one still is', async (t) => {
  const checker = new YamlChecker(5000)
  t.teardown(() => checker.close())
  const files = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([name, text]) => [name, Buffer.from(text)]))
  t.same(await checker.check(files({ 'pack.json': '{', 'README.md': 'a: [' })), [], 'only the YAML files are checked')
  t.same(await checker.check(files({ 'values.yaml': 'a: 1\na: 2\n', 'presets.yaml': 'p: 1\n', 'schema.yaml': 's: [' })), [
    { file: 'values.yaml', field: null, message: 'values.yaml: line 2, column 1: duplicate key "a"' },
    { file: 'schema.yaml', field: null, message: 'schema.yaml: line 1, column 5: Flow sequence in block collection must be sufficiently indented and end with a ]' },
  ])

  const hurried = new YamlChecker(200)
  t.teardown(() => hurried.close())
  const slow = files({ 'values.yaml': `${'[1, '.repeat(200_000)}1${']'.repeat(200_000)}` })
  const [first, second] = await Promise.all([hurried.check(slow), hurried.check(files({ 'values.yaml': 'a: [' }))])
  t.same(first, [], 'too slow to check within the budget: unchecked, not refused')
  t.match(second, [{ message: /^values\.yaml: line 1, column 5: / }], 'the one queued behind it gets its own budget, on a new worker')
  const patient = new YamlChecker(10_000)
  t.teardown(() => patient.close())
  const [again, after] = await Promise.all([patient.check(files({ 'values.yaml': 'a: 1\na: 2\n' })), patient.check(files({ 'values.yaml': 'b: 1\nb: 2\n' }))])
  t.match(again, [{ message: /duplicate key "a"/ }])
  t.match(after, [{ message: /duplicate key "b"/ }], 'one worker serves one pack after another')
})
