// The worker thread of yaml-checker.ts: says 'ready' once the parser is loaded, then checks the
// YAML files of one pack per message and answers with their problems.

import { parentPort } from 'node:worker_threads'
import type { PackProblem } from './pack-json.js'
import { yamlProblem } from './yaml-check.js'

parentPort?.on('message', (files: Array<[string, string]>) => {
  const problems: PackProblem[] = []
  for (const [file, text] of files) {
    const problem = yamlProblem(file, text)
    if (problem !== null) problems.push(problem)
  }
  parentPort?.postMessage(problems)
})
parentPort?.postMessage('ready')
