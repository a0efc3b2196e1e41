// The server's YAML check (yaml-check.ts) off its event loop and under a time budget. Parsing is
// linear but slow (a MiB of plain values takes about a second, a hostile MiB far more), so the
// files of one pack at a time are checked by a worker thread; a pack whose files take longer
// than the budget (counted from when the worker is ready), or more memory than the worker may
// have, is left unchecked (nothing is refused for being slow to check), that worker is ended,
// and the next pack gets a new one.

import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { PackProblem } from './pack-json.js'
import { YAML_FILES } from './yaml-check.js'

interface Job {
  files: Array<[string, string]>
  done: (problems: PackProblem[]) => void
}

const WORKER_HEAP_MB = 256

export class YamlChecker {
  private worker: Worker | null = null
  /** the worker has loaded the parser: a budget starts only then, not with a cold start */
  private ready = false
  private readonly queue: Job[] = []
  private running: { job: Job; timer: NodeJS.Timeout | null } | null = null

  constructor(private readonly budgetMs: number) {}

  /** The problems of the YAML files among `files` (a pack's extracted files, by name). */
  check(files: ReadonlyMap<string, Buffer>): Promise<PackProblem[]> {
    const texts = YAML_FILES.flatMap((name): Array<[string, string]> => {
      const content = files.get(name)
      return content === undefined ? [] : [[name, content.toString('utf8')]]
    })
    if (texts.length === 0) return Promise.resolve([])
    return new Promise((done) => {
      this.queue.push({ files: texts, done })
      this.next()
    })
  }

  /** Ends the worker; packs still waiting are left unchecked. */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) job.done([])
    this.settle([])
    const worker = this.worker
    this.worker = null
    await worker?.terminate()
  }

  private next(): void {
    if (this.running !== null) return
    const job = this.queue.shift()
    if (job === undefined) return
    const worker = (this.worker ??= this.start())
    this.running = { job, timer: this.ready ? this.budget() : null }
    worker.postMessage(job.files)
  }

  private budget(): NodeJS.Timeout {
    return setTimeout(() => this.abandon(), this.budgetMs)
  }

  private start(): Worker {
    this.ready = false
    // No flags of ours (a test runner's loaders) for a thread that only parses.
    const worker = new Worker(join(__dirname, 'yaml-worker.js'), { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } })
    // A check in progress must not keep a stopping server alive.
    worker.unref()
    worker.on('message', (answer: PackProblem[] | 'ready') => {
      if (this.worker !== worker) return
      if (answer === 'ready') {
        this.ready = true
        if (this.running !== null) this.running.timer = this.budget()
        return
      }
      this.settle(answer)
      this.next()
    })
    // Out of memory, or any other end: what it was checking stays unchecked.
    worker.on('error', () => {
      if (this.worker === worker) this.abandon()
    })
    worker.on('exit', () => {
      if (this.worker === worker) this.abandon()
    })
    return worker
  }

  /** The running check took too long or its worker died: left unchecked, on a new worker next time. */
  private abandon(): void {
    const worker = this.worker
    this.worker = null
    void worker?.terminate()
    this.settle([])
    this.next()
  }

  private settle(problems: PackProblem[]): void {
    if (this.running === null) return
    if (this.running.timer !== null) clearTimeout(this.running.timer)
    this.running.job.done(problems)
    this.running = null
  }
}
