// The root lock's rules, in process: locks from other hosts live while refreshed, this process's
// own pid from an earlier life is stale, junk is stale, release removes only our own lock, and
// of several processes taking over one stale lock exactly one wins; a full disk does not keep the
// lock from being taken (the space reserve is freed for it).

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, openSync, readFileSync, utimesSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { rootLayout } from '../../src/store/layout.js'
import { SpaceReserve } from '../../src/store/reserve.js'
import { lockRoot, InUseError, STALE_AFTER_MS } from '../../src/store/root-lock.js'
import { tempDir } from '../helpers.js'

function writeLock(root: string, holder: Record<string, unknown>, ageMs = 0): string {
  mkdirSync(root, { recursive: true })
  const file = join(root, 'packyard.lock')
  writeFileSync(file, JSON.stringify({ startedAt: '2026-01-01T00:00:00.000Z', purpose: 'serve on :5000', token: 'theirs', ...holder }))
  const at = new Date(Date.now() - ageMs)
  utimesSync(file, at, at)
  return file
}

t.test('a lock from another host holds while it is refreshed, and is stale once it is not', async (t) => {
  const root = tempDir(t)
  writeLock(root, { pid: 1, host: 'other-host' }, 5_000)
  const err = await lockRoot(root, { purpose: 'test' }).catch((e: unknown) => e)
  t.ok(err instanceof InUseError)
  t.match((err as Error).message, /serve on :5000, pid 1 on host other-host, started 2026-01-01T00:00:00\.000Z\. .*Its lock was refreshed 5 s ago; if that server is gone, start again in 55 s or remove .*packyard\.lock$/)

  writeLock(root, { pid: 1, host: 'other-host' }, STALE_AFTER_MS + 1000)
  const stale: unknown[] = []
  const lock = await lockRoot(root, { purpose: 'test', onStale: (h) => stale.push(h) })
  t.match(stale, [{ host: 'other-host' }])
  t.match(JSON.parse(readFileSync(lock.file, 'utf8')), { pid: process.pid, host: hostname(), purpose: 'test' })
  await lock.release()
})

t.test('this process\'s own pid (a restarted container) and junk are stale; a held lock refuses', async (t) => {
  const root = tempDir(t)
  writeLock(root, { pid: process.pid, host: hostname() })
  const lock = await lockRoot(root, { purpose: 'first' })
  t.equal(lock.holder.purpose, 'first')
  await t.rejects(lockRoot(root, { purpose: 'second' }), InUseError, 'held by a live lock of this process')
  await lock.release()
  await lock.release()

  writeFileSync(lock.file, 'not json')
  const stale: unknown[] = []
  const again = await lockRoot(root, { purpose: 'third', onStale: (h) => stale.push(h) })
  t.same(stale, [null])
  await again.release()
})

t.test('release removes only the lock it took', async (t) => {
  const root = tempDir(t)
  const lock = await lockRoot(root, { purpose: 'mine' })
  const file = writeLock(root, { pid: process.pid, host: hostname(), token: 'someone else' })
  await lock.release()
  t.match(JSON.parse(readFileSync(file, 'utf8')), { token: 'someone else' })
})

t.test('several takers of one stale lock: exactly one wins', async (t) => {
  for (let round = 0; round < 20; round++) {
    const root = tempDir(t)
    writeLock(root, { pid: 1, host: 'gone-host' }, STALE_AFTER_MS * 2)
    const results = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => lockRoot(root, { purpose: `taker ${i}` })))
    const won = results.filter((r) => r.status === 'fulfilled')
    t.equal(won.length, 1, `round ${round}`)
    t.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof InUseError))
    const holder = JSON.parse(readFileSync(join(root, 'packyard.lock'), 'utf8')) as { purpose: string }
    t.equal(holder.purpose, (won[0] as PromiseFulfilledResult<{ holder: { purpose: string } }>).value.holder.purpose)
  }
})

const smallDisk = join(tempDir(t), 'small-disk')
mkdirSync(smallDisk)
let mounted = false
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', smallDisk], { stdio: 'pipe' })
  mounted = true
  t.teardown(() => execFileSync('umount', ['-l', smallDisk]))
} catch (err) {
  if (process.env.CI === 'true') throw new Error(`cannot mount a tmpfs (CI runs as root): ${(err as Error).message}`)
}

t.test('a full disk: the space reserve is freed for the lock file', { skip: mounted ? false : 'mounting a tmpfs needs root; CI runs this test' }, async (t) => {
  const reserve = new SpaceReserve(rootLayout(smallDisk).reservedSpace, 256 * 1024)
  await reserve.ensure()
  const filler = openSync(join(smallDisk, 'filler'), 'w')
  try {
    for (;;) writeSync(filler, Buffer.alloc(4096))
  } catch (err) {
    t.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'the disk is full')
  } finally {
    closeSync(filler)
  }
  await t.rejects(lockRoot(smallDisk, { purpose: 'serve' }), { code: 'ENOSPC' }, 'no room for the lock')
  const lock = await lockRoot(smallDisk, { purpose: 'serve', onStorageFull: () => reserve.release() })
  t.match(JSON.parse(readFileSync(lock.file, 'utf8')), { purpose: 'serve' })
  await lock.release()
})
