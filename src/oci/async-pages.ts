// The paging rules of src/pages.ts (fetchPage, fetchTwoWayPage) over queries that answer
// asynchronously, as the metadata does. The pager runs unchanged against the rows read so far;
// each query it asks for that has not been read yet is read, and the pager runs again, until a
// run needs nothing new (at most one more run per query it makes). So the rules stay in one
// place and only rows the final page needs are read.

/**
 * The page `pager` computes when its `query` answers what `read` reads. `pager` must ask for the
 * same queries when given the same answers (it is a pure function of them).
 */
export async function readPage<A extends unknown[], T, P>(pager: (query: (...args: A) => T[]) => P, read: (...args: A) => Promise<T[]>): Promise<P> {
  const answers = new Map<string, T[]>()
  for (;;) {
    const missing: A[] = []
    const page = pager((...args) => {
      const answer = answers.get(JSON.stringify(args))
      if (answer) return answer
      missing.push(args)
      return []
    })
    if (missing.length === 0) return page
    for (const args of missing) answers.set(JSON.stringify(args), await read(...args))
  }
}
