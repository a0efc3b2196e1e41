// Push clients on a thread of their own, for the mixed-load scenario: there the bench drives a
// manifest GET load and pushes at the same time, and a load generator answering thousands of
// requests a second would otherwise hold the one event loop the push clients need, so that the
// pushes measured the bench rather than the registry. The worker is started and its modules
// loaded before go(), so that the pushes, not the thread's start-up, are what runs meanwhile.

import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { SyntheticPack } from './packs.js'

/** What the worker is given: where to push, as whom, and what. */
export interface PushJob {
  label: string
  base: string
  user: string
  password: string
  maxSockets: number
  packs: SyntheticPack[]
  concurrency: number
}

/** What the worker says: it is ready, the pushes are done, or the first failure. */
export type PushMessage = { ready: true } | { done: true } | { error: string }

export interface PushClients {
  /** starts the pushes; resolves when every pack is pushed */
  go(): Promise<void>
}

export function startPushClients(job: PushJob): Promise<PushClients> {
  const worker = new Worker(join(__dirname, 'push-clients-worker.js'), { workerData: job })
  // The current wait's handlers; a failure between two waits is kept for the next one.
  let onMessage: (message: PushMessage) => void = () => undefined
  let failed: Error | null = null
  let onFailure = (err: Error) => void (failed ??= err)
  worker.on('message', (message: PushMessage) => {
    if ('error' in message) onFailure(new Error(message.error))
    else onMessage(message)
  })
  worker.on('error', (err) => onFailure(err))
  worker.on('exit', (code) => onFailure(new Error(`${job.label}: the push clients' thread exited (code ${code}) before finishing`)))
  const next = (expected: 'ready' | 'done') =>
    new Promise<void>((resolve, reject) => {
      if (failed) return reject(failed)
      onMessage = (message) => (expected in message ? resolve() : reject(new Error(`${job.label}: push clients said ${JSON.stringify(message)}, expected ${expected}`)))
      onFailure = (err) => {
        failed ??= err
        reject(err)
      }
    })
  return next('ready').then(() => ({
    go: async () => {
      const done = next('done')
      worker.postMessage('go')
      try {
        await done
      } finally {
        onFailure = () => undefined
        await worker.terminate()
      }
    },
  }))
}
