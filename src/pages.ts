// Paged listings, one meaning everywhere (catalogs, tags, packs, referrers): a page holds at most
// `n` items, capped by limits.pagesize; the query fetches one row more than asked, and only when
// that row exists is there a next page, named by the last item's key. A listing never links to
// an empty page.

export interface PageRequest {
  n?: number | undefined
  last?: string | undefined
}

export interface Page<T> {
  items: T[]
  /** The page size used (the request's n, capped). */
  n: number
  /** The `last` to ask for the following page; null on the last page. */
  next: string | null
}

export function fetchPage<T>(request: PageRequest, maxPageSize: number, key: (item: T) => string, query: (after: string, limit: number) => T[]): Page<T> {
  const n = Math.min(request.n ?? maxPageSize, maxPageSize)
  if (n <= 0) return { items: [], n, next: null }
  const rows = query(request.last ?? '', n + 1)
  const items = rows.slice(0, n)
  const last = items[items.length - 1]
  return { items, n, next: rows.length > n && last !== undefined ? key(last) : null }
}
