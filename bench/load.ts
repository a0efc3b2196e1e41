// Load on one URL, for a fixed duration or for as long as other work runs. Small answers
// (manifests) are driven by autocannon, the npm load generator, for req/s and latency
// percentiles. Large answers (1 MB blobs) are driven by the bench's own keep-alive client
// instead: autocannon's JS parser tops out near 70 MB/s of 1 MB bodies on the bench machine,
// below both registries, so it would measure itself. Either runs in the bench process, on the
// same two cores as the registries, the same way for both.
// Any error or non-2xx answer fails the bench: throughput of failures is not a figure.

import autocannon from 'autocannon'
import { type Endpoint, send } from './http.js'
import { seconds } from './stats.js'

export interface LoadResult {
  /** successful requests per second over the run */
  rps: number
  /** latency percentiles in ms (autocannon's resolution is 1 ms) */
  p50: number
  p99: number
}

type LoadOptions = { connections: number; headers?: Record<string, string> }

function start(ep: Endpoint, path: string, opts: LoadOptions & { seconds: number; sampleMs?: number }): autocannon.Instance {
  return autocannon({
    url: new URL(path, ep.base).toString(),
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.sampleMs ? { sampleInt: opts.sampleMs } : {}),
    headers: { authorization: ep.authorization, ...opts.headers },
  })
}

function outcome(ep: Endpoint, path: string, result: autocannon.Result): LoadResult {
  if (result.errors > 0 || result.non2xx > 0 || result['2xx'] === 0) {
    throw new Error(`${ep.label}: load on GET ${path}: ${result['2xx']} ok, ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)}), ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  return { rps: result['2xx'] / result.duration, p50: result.latency.p50, p99: result.latency.p99 }
}

export async function load(ep: Endpoint, path: string, opts: LoadOptions & { seconds: number }): Promise<LoadResult> {
  return outcome(ep, path, await start(ep, path, opts))
}

// autocannon notices a stop at its next sample tick: 100 ms keeps the load from outliving the work by more.
const STOP_TICK_MS = 100
// An upper bound the work is never expected to reach; the load is stopped when the work ends.
const LONGEST_SECONDS = 3600

/** Load on `path` from just before `work` starts until it ends; answers both results. */
export async function loadWhile<T>(ep: Endpoint, path: string, opts: LoadOptions, work: () => Promise<T>): Promise<{ load: LoadResult; work: T }> {
  const running = start(ep, path, { ...opts, seconds: LONGEST_SECONDS, sampleMs: STOP_TICK_MS })
  let done: T
  try {
    done = await work()
  } catch (err) {
    running.stop()
    await running.catch(() => undefined)
    throw err
  }
  running.stop()
  return { load: outcome(ep, path, await running), work: done }
}

/** `connections` clients download `path` back to back for `opts.seconds`; answers MB/s (10^6 bytes). */
export async function downloadLoad(ep: Endpoint, path: string, opts: { connections: number; seconds: number; bytes: number }): Promise<number> {
  const start = process.hrtime.bigint()
  let received = 0
  const client = async (): Promise<void> => {
    while (seconds(start) < opts.seconds) {
      const answer = await send(ep, { method: 'GET', url: path, expect: [200], discard: true })
      if (answer.bytes !== opts.bytes) throw new Error(`${ep.label}: GET ${path} gave ${answer.bytes} bytes, expected ${opts.bytes}`)
      received += answer.bytes
    }
  }
  await Promise.all(Array.from({ length: opts.connections }, client))
  return received / 1e6 / seconds(start)
}
