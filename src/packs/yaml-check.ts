// Whether the YAML files of a pack parse: Palette parses values.yaml, presets.yaml and
// schema.yaml when a profile uses the pack, so one that does not is a warning at push (an error
// under strict validation) naming the file, line and column of its first problem, instead of a
// failure in Palette later. The server and the CLI check with this same function (the server
// off its event loop, under a time budget: yaml-checker.ts).
//
// Aliases are never expanded (a billion-laughs file is only ten lines to check). Duplicate keys
// and aliases to no anchor are found here in one pass over each document, not by the parser's
// own key check, which compares every key with every other (100,000 keys took minutes).

import { type Alias, isAlias, isMap, isNode, isScalar, isSeq, parseAllDocuments } from 'yaml'
import { lineAndColumn, type PackProblem } from './pack-json.js'

/** The files at the pack root that must be valid YAML. */
export const YAML_FILES = ['values.yaml', 'presets.yaml', 'schema.yaml'] as const

/** The first problem that makes `text` invalid YAML, as a warning about `file`; null when it parses. */
export function yamlProblem(file: string, text: string): PackProblem | null {
  let first: { position: number; problem: string } | null = null
  const note = (position: number, problem: string) => {
    if (first === null || position < first.position) first = { position, problem }
  }
  for (const doc of parseAllDocuments(text, { uniqueKeys: false, prettyErrors: false })) {
    const error = doc.errors[0]
    if (error !== undefined) {
      // The parser's own recursion gives out first on absurd nesting, and says so in its terms.
      note(error.pos[0], error.message === 'Maximum call stack size exceeded' ? 'nested too deeply' : error.message)
      continue
    }
    const anchors = new Set<string>()
    const aliases: Alias[] = []
    // Depth first with a stack of our own: a document nested thousands deep parses, and must not
    // overflow the call stack here.
    const stack: unknown[] = [doc.contents]
    while (stack.length > 0) {
      const node = stack.pop()
      if (isNode(node) && node.anchor !== undefined) anchors.add(node.anchor)
      if (isAlias(node)) {
        aliases.push(node)
      } else if (isSeq(node)) {
        stack.push(...node.items)
      } else if (isMap(node)) {
        const keys = new Set<string>()
        for (const pair of node.items) {
          stack.push(pair.key, pair.value)
          if (!isScalar(pair.key)) continue
          // 1 and "1" are different keys, as for Go's YAML decoders; `<<` merges may repeat.
          const key = `${typeof pair.key.value}:${String(pair.key.value)}`
          if (keys.has(key) && pair.key.value !== '<<') note(pair.key.range?.[0] ?? 0, `duplicate key ${JSON.stringify(String(pair.key.value))}`)
          keys.add(key)
        }
      }
    }
    for (const alias of aliases) if (!anchors.has(alias.source)) note(alias.range?.[0] ?? 0, `alias *${alias.source} names no anchor`)
  }
  if (first === null) return null
  const { position, problem } = first as { position: number; problem: string }
  const { line, column } = lineAndColumn(text, position)
  return { file, field: null, message: `${file}: line ${line}, column ${column}: ${problem}` }
}
