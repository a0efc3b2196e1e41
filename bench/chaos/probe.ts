// One hostile request and what became of it. Unlike bench/http.ts (which fails a run on any
// status it did not expect), a probe accepts whatever the server does and classifies it: an
// answer (status, headers, the start of the body), a connection closed without an answer, or a
// hang (nothing within the limit, 10 s by default). Each probe has its own connection, so a
// stalled or aborted request never holds up the next one, and may come from any loopback
// address (127.x.y.z), so failed logins can be spread over many client addresses or kept on
// one. A probe can also misbehave on purpose: send only part of its body and then stall
// (keeping the socket open), or send part of it and then drop the connection. Every body is
// hashed as it arrives, so a download can be checked against its digest without keeping it.

import { createHash } from 'node:crypto'
import http from 'node:http'

export interface Probe {
  method: string
  /** path and query, sent exactly as given */
  path: string
  headers?: Record<string, string | number>
  body?: Buffer
  /** send only this many bytes of the body, then keep the connection open without sending more */
  stallAfter?: number
  /** send only this many bytes of the body, then close the connection */
  abortAfter?: number
  /** the client address (any 127.x.y.z); 127.0.0.1 when absent */
  localAddress?: string
  /** how much of the answer's body to keep (default 1 MiB); the rest is only counted and hashed */
  keep?: number
}

export type Outcome =
  | { kind: 'answered'; status: number; headers: http.IncomingHttpHeaders; body: Buffer; bytes: number; digest: string; ms: number }
  | { kind: 'closed'; error: string; ms: number }
  | { kind: 'hang'; ms: number }
  | { kind: 'aborted'; ms: number }

export const HANG_MS = 10_000
// Enough of a body to read an error envelope; the rest of a download is counted, not kept.
const BODY_KEPT = 1 << 20
// How long an aborting probe waits after its last byte before it drops the connection, so the
// server is surely in the middle of reading the body.
const ABORT_PAUSE_MS = 100

export function probe(base: string, p: Probe, limitMs = HANG_MS): Promise<Outcome> {
  const url = new URL(base)
  const started = process.hrtime.bigint()
  const ms = () => Number(process.hrtime.bigint() - started) / 1e6
  return new Promise<Outcome>((resolve) => {
    let settled = false
    const settle = (outcome: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(outcome)
    }
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: p.method,
      path: p.path,
      headers: p.headers,
      agent: false,
      ...(p.localAddress ? { localAddress: p.localAddress } : {}),
    })
    const timer = setTimeout(() => settle({ kind: 'hang', ms: ms() }), limitMs)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      const hash = createHash('sha256')
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        if (bytes < (p.keep ?? BODY_KEPT)) chunks.push(chunk)
        bytes += chunk.length
        hash.update(chunk)
      })
      const done = () =>
        settled ||
        settle({ kind: 'answered', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes, digest: `sha256:${hash.digest('hex')}`, ms: ms() })
      res.on('end', done)
      // The server may close right after its headers (an early error answer): keep what came.
      res.on('error', done)
      res.on('aborted', done)
    })
    req.on('error', (err) => settle({ kind: 'closed', error: err.message, ms: ms() }))

    const body = p.body ?? Buffer.alloc(0)
    if (p.abortAfter !== undefined) {
      req.write(body.subarray(0, p.abortAfter))
      setTimeout(() => settle({ kind: 'aborted', ms: ms() }), ABORT_PAUSE_MS)
    } else if (p.stallAfter !== undefined) {
      req.flushHeaders()
      req.write(body.subarray(0, p.stallAfter))
    } else {
      req.end(body)
    }
  })
}

/** A status class for tallies: 2 for 2xx, 4 for 4xx, ... */
export function statusClass(outcome: Outcome): number | null {
  return outcome.kind === 'answered' ? Math.floor(outcome.status / 100) : null
}

/** Short text for a report line. */
export function describe(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'answered': {
      const text = outcome.body.toString('utf8', 0, Math.min(outcome.body.length, 200)).replace(/\s+/g, ' ')
      return `${outcome.status} in ${outcome.ms.toFixed(0)} ms ${text}`
    }
    case 'closed':
      return `connection closed without an answer after ${outcome.ms.toFixed(0)} ms (${outcome.error})`
    case 'hang':
      return `no answer within ${(outcome.ms / 1000).toFixed(0)} s`
    case 'aborted':
      return 'aborted by the client'
  }
}
