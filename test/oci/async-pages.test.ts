// readPage runs the paging rules of src/pages.ts over an asynchronous query: every page it
// returns is the one the rules give over the same rows read synchronously, forwards, backwards
// and past either end, and it reads each query the rules make once, and no other.

import t from 'tap'
import { fetchPage, fetchTwoWayPage } from '../../src/pages.js'
import { readPage } from '../../src/oci/async-pages.js'

const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g']

function after(key: string | null, limit: number): string[] {
  return names.filter((n) => key === null || n > key).slice(0, limit)
}

function before(key: string | null, limit: number): string[] {
  return names.filter((n) => key === null || n < key).reverse().slice(0, limit)
}

t.test('one-way pages are what fetchPage gives, from one query', async (t) => {
  for (const request of [{}, { n: 3 }, { n: 3, last: 'c' }, { n: 3, last: 'd' }, { n: 0 }, { n: 3, last: 'g' }]) {
    const reads: unknown[][] = []
    const page = await readPage(
      (query: (last: string, limit: number) => string[]) => fetchPage(request, 5, (n) => n, query),
      async (last: string, limit: number) => {
        reads.push([last, limit])
        return after(last, limit)
      },
    )
    t.same(page, fetchPage(request, 5, (n: string) => n, (last, limit) => after(last, limit)), JSON.stringify(request))
    t.ok(reads.length <= 1, `${JSON.stringify(request)}: read at most once`)
  }
})

t.test('two-way pages are what fetchTwoWayPage gives, each query read once', async (t) => {
  const rows = (direction: 'after' | 'before', key: string | null, limit: number) => (direction === 'after' ? after(key, limit) : before(key, limit))
  for (const request of [{ n: 3 }, { n: 3, after: 'b' }, { n: 3, before: 'e' }, { n: 3, before: 'b' }, { n: 3, after: 'g' }, { n: 10 }]) {
    const reads: string[] = []
    const page = await readPage(
      (query: (direction: 'after' | 'before', key: string | null, limit: number) => string[]) => fetchTwoWayPage(request, 5, (n) => n, query),
      async (direction: 'after' | 'before', key: string | null, limit: number) => {
        reads.push(JSON.stringify([direction, key, limit]))
        return rows(direction, key, limit)
      },
    )
    t.same(page, fetchTwoWayPage(request, 5, (n) => n, rows), JSON.stringify(request))
    t.equal(new Set(reads).size, reads.length, `${JSON.stringify(request)}: no query read twice`)
  }
})
