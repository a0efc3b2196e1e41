// What the in-process tests call on an app (`app.inject({method, url, headers, payload})`),
// answered by a real server over HTTP instead: so the walks written against app.inject (the
// distribution walk, the pack fixtures) run unchanged against replicas behind nginx. Where each
// request goes is the caller's choice, per request (e.g. the upload requests of one session to
// a different replica each time). Redirects are returned, not followed, as inject returns them.

import type { InjectOptions } from 'fastify'

/** The part of light-my-request's response the walks read. */
export interface Answer {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  rawPayload: Buffer
  payload: string
  body: string
  json: <T = any>() => T
}

/** Anything with app.inject's request shape: a Fastify app, or fetchInjector's HTTP client. */
export interface Injector {
  inject(opts: InjectOptions): Promise<Answer>
}

export interface Routed {
  method: string
  /** path and query, as the walk wrote it */
  url: string
  /** where it went: the base URL the router chose */
  base: string
  status: number
}

/**
 * An Injector whose requests `route` sends to a base URL (http://host:port) of its choosing;
 * every request is recorded in `sent`, in order.
 */
export function fetchInjector(route: (method: string, url: string) => string): Injector & { sent: Routed[] } {
  const sent: Routed[] = []
  return {
    sent,
    async inject(opts: InjectOptions): Promise<Answer> {
      const method = opts.method ?? 'GET'
      if (typeof opts.url !== 'string') throw new Error('fetchInjector takes string URLs only')
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(opts.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = String(value)
      let body: Buffer | string | undefined
      const payload = opts.payload ?? opts.body
      if (payload === undefined) body = undefined
      else if (Buffer.isBuffer(payload) || typeof payload === 'string') body = payload
      else if (typeof payload === 'object' && payload !== null && !('pipe' in payload)) {
        // inject serializes a plain object as JSON, and says so.
        body = JSON.stringify(payload)
        headers['content-type'] ??= 'application/json'
      } else throw new Error('fetchInjector takes Buffer, string or JSON payloads only')
      const base = route(method, opts.url)
      const res = await fetch(`${base}${opts.url}`, { method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual' })
      const rawPayload = Buffer.from(await res.arrayBuffer())
      sent.push({ method, url: opts.url, base, status: res.status })
      const text = rawPayload.toString('utf8')
      return {
        statusCode: res.status,
        headers: Object.fromEntries(res.headers),
        rawPayload,
        payload: text,
        body: text,
        json: () => JSON.parse(text),
      }
    },
  }
}
