// Paged listings over HTTP, as the distribution API does them: the domain returns a Page (see
// src/pages.ts) and the route adds `Link: <path?n=..&last=..>; rel="next"` when there is a next
// page, keeping the request's other query parameters.

import type { FastifyReply } from 'fastify'
import type { Page } from '../pages.js'

/** `<path?query>; rel="next"`, parameters in the order given, empty ones left out. */
export function nextLink(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value))
  return `<${path}?${params.toString()}>; rel="next"`
}

/** Adds the Link header when `page` has a next page; `query` holds the request's filters. */
export function setNextLink(reply: FastifyReply, path: string, query: Record<string, string | number | undefined>, page: Page<unknown>): void {
  if (page.next === null) return
  const filters = Object.fromEntries(Object.entries(query).filter(([key]) => key !== 'n' && key !== 'last'))
  reply.header('link', nextLink(path, { n: page.n, last: page.next, ...filters }))
}
