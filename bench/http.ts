// The bench's own HTTP/1.1 client for the work autocannon cannot do: uploads streamed from
// disk or a generator, paged listings that follow Link headers, multi-step pushes. Each
// registry gets one keep-alive agent, as a real client keeps its connections, and Basic
// credentials on every request. Any status other than the expected ones fails the run with the
// registry, the request and the start of the answer, because a bench that shrugs off errors
// measures how fast a registry can say no.

import http from 'node:http'
import { Readable } from 'node:stream'

export interface Endpoint {
  /** "packyard" or "reference", for error messages */
  label: string
  base: URL
  authorization: string
  agent: http.Agent
}

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  /** empty when the body was discarded */
  body: Buffer
  /** bytes of body received */
  bytes: number
}

export interface Call {
  method: string
  /** a path with query, or an absolute URL (upload locations) */
  url: string
  expect: readonly number[]
  headers?: Record<string, string | number>
  body?: Buffer | string | Readable
  /** count the body's bytes instead of keeping them (blob downloads) */
  discard?: boolean
}

// Long enough for a slow 1 GB transfer to keep flowing, short enough that a stuck server
// fails the run instead of hanging it.
const IDLE_TIMEOUT_MS = 60_000

export function endpoint(label: string, base: string, user: string, password: string, maxSockets: number): Endpoint {
  return {
    label,
    base: new URL(base),
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    agent: new http.Agent({ keepAlive: true, maxSockets }),
  }
}

export function send(ep: Endpoint, call: Call): Promise<Answer> {
  const url = new URL(call.url, ep.base)
  const where = `${ep.label}: ${call.method} ${url.pathname}${url.search.length > 80 ? `${url.search.slice(0, 80)}...` : url.search}`
  return new Promise<Answer>((resolve, reject) => {
    const fail = (err: Error) => reject(new Error(`${where}: ${err.message}`))
    const req = http.request(url, { method: call.method, agent: ep.agent, headers: { authorization: ep.authorization, ...call.headers } }, (res) => {
      const status = res.statusCode ?? 0
      const expected = call.expect.includes(status)
      const keep = !expected || !call.discard
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (keep) chunks.push(chunk)
      })
      res.on('error', fail)
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        if (!expected) {
          fail(new Error(`answered ${status}, expected ${call.expect.join(' or ')}: ${body.toString('utf8', 0, Math.min(body.length, 300))}`))
          return
        }
        resolve({ status, headers: res.headers, body, bytes })
      })
    })
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no progress for ${IDLE_TIMEOUT_MS / 1000} s`)))
    req.on('error', fail)
    if (call.body instanceof Readable) {
      call.body.on('error', (err) => req.destroy(err))
      call.body.pipe(req)
    } else {
      req.end(call.body)
    }
  })
}

/** The target of a `Link: <...>; rel="next"` header, if there is one. */
function nextLink(headers: http.IncomingHttpHeaders): string | null {
  const link = headers.link
  if (typeof link !== 'string') return null
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)
  return match ? (match[1] as string) : null
}

export function json<T>(answer: Answer): T {
  return JSON.parse(answer.body.toString('utf8')) as T
}

export interface Listing<T> {
  items: T[]
  pages: number
}

/**
 * Follows `Link: rel="next"` from `firstUrl` to the end, collecting the `key` array of every
 * page (OCI catalog and tags lists; Packyard's /v1 listings page the same way).
 */
export async function listAllPages<T = string>(ep: Endpoint, firstUrl: string, key: string): Promise<Listing<T>> {
  const items: T[] = []
  let pages = 0
  for (let url: string | null = firstUrl; url !== null; ) {
    const answer = await send(ep, { method: 'GET', url, expect: [200] })
    const page = json<Record<string, unknown>>(answer)[key]
    if (!Array.isArray(page)) throw new Error(`${ep.label}: GET ${url}: the answer has no "${key}" array`)
    items.push(...(page as T[]))
    pages++
    url = nextLink(answer.headers)
  }
  return { items, pages }
}
