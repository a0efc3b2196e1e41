// Paged listings, one meaning everywhere (catalogs, tags, packs, referrers): a page holds at most
// `n` items, capped by limits.pagesize; the query fetches one row more than asked, and only when
// that row exists is there a next page, named by the last item's key. A listing never links to
// an empty page. Queries answer at once or asynchronously (the metadata's do). followedLink is the other side: the next page a client (the CLI, the mirror)
// reads from a Link header.

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

/** What a page query answers: rows at once, or when the metadata has read them. */
type Rows<T> = T[] | Promise<T[]>

export async function fetchPage<T>(request: PageRequest, maxPageSize: number, key: (item: T) => string, query: (after: string, limit: number) => Rows<T>): Promise<Page<T>> {
  const n = Math.min(request.n ?? maxPageSize, maxPageSize)
  if (n <= 0) return { items: [], n, next: null }
  const rows = await query(request.last ?? '', n + 1)
  const items = rows.slice(0, n)
  const last = items[items.length - 1]
  return { items, n, next: rows.length > n && last !== undefined ? key(last) : null }
}

/** A page that can also be read backwards (the pack browser's Previous link). */
export interface TwoWayPageRequest {
  n?: number | undefined
  /** items after this key */
  after?: string | undefined
  /** items before this key; the page then ends just before it */
  before?: string | undefined
}

export interface TwoWayPage<T> extends Page<T> {
  /** The `before` to ask for the preceding page; null on the first page. */
  previous: string | null
}

/**
 * The same meaning read in either direction. `query(direction, key, limit)` returns up to
 * `limit` items after `key` in the listing's order, or before it in reverse order (nearest
 * first); a null key starts at that end. Links only lead to pages with items: the extra row
 * says whether there is more ahead, and one row looked up behind says whether there is more
 * behind.
 */
export async function fetchTwoWayPage<T>(
  request: TwoWayPageRequest,
  maxPageSize: number,
  key: (item: T) => string,
  query: (direction: 'after' | 'before', key: string | null, limit: number) => Rows<T>,
): Promise<TwoWayPage<T>> {
  const n = Math.min(request.n ?? maxPageSize, maxPageSize)
  if (n <= 0) return { items: [], n, next: null, previous: null }
  const backwards = request.before !== undefined
  const rows = await (backwards ? query('before', request.before ?? null, n + 1) : query('after', request.after ?? null, n + 1))
  const items = rows.slice(0, n)
  if (backwards) items.reverse()
  const first = items[0]
  const last = items[items.length - 1]
  if (first === undefined || last === undefined) return { items, n, next: null, previous: null }
  const more = rows.length > n
  const hasBefore = backwards ? more : request.after !== undefined && (await query('before', key(first), 1)).length > 0
  const hasAfter = backwards ? (await query('after', key(last), 1)).length > 0 : more
  return { items, n, next: hasAfter ? key(last) : null, previous: hasBefore ? key(first) : null }
}

/**
 * The `rel="next"` target of a Link header as a path (with its query), when it resolves to the
 * origin of `base` (the server that sent it): a link to another host (`https://x/...`, `//x/...`)
 * is never followed.
 */
export function followedLink(header: string | string[] | undefined, base = 'http://same.invalid'): string | null {
  const value = Array.isArray(header) ? header.join(', ') : header
  if (!value) return null
  const origin = new URL(base).origin
  for (const part of value.split(/,(?=\s*<)/)) {
    const [, target, params] = /^\s*<([^>]*)>\s*;(.*)$/.exec(part) ?? []
    if (target === undefined || params === undefined || !/(?:^|;)\s*rel="?next"?\s*(?:;|$)/.test(params)) continue
    let url: URL
    try {
      url = new URL(target, base)
    } catch {
      return null
    }
    return url.origin === origin ? url.pathname + url.search : null
  }
  return null
}
