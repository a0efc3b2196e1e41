// `n`/`last` pagination as in the distribution API: at most `limits.pagesize` per page, and a
// `Link: <...>; rel="next"` header when the page is full.

import type { FastifyReply } from 'fastify'

export function pageSize(requested: number | undefined, max: number): number {
  return requested === undefined ? max : Math.min(requested, max)
}

export function setNextLink(reply: FastifyReply, path: string, query: Record<string, string | number | undefined>, items: string[], n: number): void {
  if (items.length < n || items.length === 0) return
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '' && k !== 'last' && k !== 'n') params.set(k, String(v))
  params.set('n', String(n))
  params.set('last', items[items.length - 1] as string)
  reply.header('link', `<${path}?${params.toString()}>; rel="next"`)
}
