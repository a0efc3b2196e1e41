// Failed logins, counted in the database (table login_failures, migration 0015) so that a
// lockout holds on every replica a client may reach behind a load balancer, and survives a
// restart. Keys are the authenticator's: a client address, or an address and a hash of a user
// name. Each
// count is one atomic upsert, so failures arriving on several replicas at once are all counted;
// a count whose last failure is older than the window starts again at 1. Rows past the window
// are deleted by `forgetBefore`, which the authenticator calls now and then.

import { type Database, type Statement, writeTransaction } from './database.js'

export interface FailureCount {
  key: string
  count: number
  /** The last failure, ms since the epoch. */
  last: number
}

/** Most keys `recent` returns: far more than a registry sees failing within a window, bar an attack. */
const RECENT_KEYS = 10_000

export class LoginFailures {
  private readonly add: Statement<{ count: number }>
  private readonly clearKey: Statement
  private readonly locked: Statement<FailureCount>
  private readonly forget: Statement

  constructor(private readonly db: Database) {
    this.add = db.prepare(
      `INSERT INTO login_failures (key, count, last_at) VALUES (@key, 1, @now)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN login_failures.last_at < @since THEN 1 ELSE login_failures.count + 1 END,
         last_at = @now
       RETURNING count`,
    )
    this.clearKey = db.prepare('DELETE FROM login_failures WHERE key = ?')
    // The most failed first, so a limit never leaves out a lockout before a single failure.
    this.locked = db.prepare(`SELECT key, count, last_at AS last FROM login_failures WHERE last_at >= ? ORDER BY count DESC LIMIT ${RECENT_KEYS}`)
    this.forget = db.prepare('DELETE FROM login_failures WHERE last_at < ?')
  }

  /**
   * Counts one more failure under each key at `now` (failures before `since` no longer count)
   * and returns the new counts, in the order of `keys`.
   */
  async count(keys: readonly string[], now: number, since: number): Promise<number[]> {
    // Each upsert is atomic by itself: nothing to serialize with, and a lost count is harmless.
    return writeTransaction(
      this.db,
      async () => {
        const counts: number[] = []
        for (const key of keys) counts.push((await this.add.get({ key, now, since }))?.count ?? 1)
        return counts
      },
      { durable: false, serialize: 'none' },
    )
  }

  /** Forgets the failures under `key` (a successful login). */
  async clear(key: string): Promise<void> {
    await this.clearKey.run(key)
  }

  /** Keys whose last failure is at or after `since` (at most RECENT_KEYS, the most failed first). */
  async recent(since: number): Promise<FailureCount[]> {
    return this.locked.all(since)
  }

  /** Deletes the failures older than `before`. */
  async forgetBefore(before: number): Promise<void> {
    await this.forget.run(before)
  }
}
