// The body of the push clients' thread (see push-clients.ts): says it is ready once its modules
// are loaded, and on "go" pushes every pack of the job the way `oras push` does with the job's
// number of concurrent clients, then says done, or the first failure.

import { parentPort, workerData } from 'node:worker_threads'
import { endpoint } from './http.js'
import { pushPackOci } from './oci-client.js'
import { forEachConcurrent } from './pool.js'
import type { PushJob, PushMessage } from './push-clients.js'

const job = workerData as PushJob
const port = parentPort
if (!port) throw new Error('push-clients-worker runs as a worker thread')
const say = (message: PushMessage) => port.postMessage(message)
const ep = endpoint(job.label, job.base, job.user, job.password, job.maxSockets)
port.once('message', () => {
  forEachConcurrent(job.packs, job.concurrency, (pack) => pushPackOci(ep, pack)).then(
    () => say({ done: true }),
    (err: unknown) => say({ error: err instanceof Error ? err.message : String(err) }),
  )
})
say({ ready: true })
