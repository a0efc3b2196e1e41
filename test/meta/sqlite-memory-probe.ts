// Run by db.test.ts in a process of its own (tap's async hooks would count its own bookkeeping
// of every promise): 50,000 non-durable write transactions and pings against a fresh SQLite
// database, after 2,000 to warm up; prints the growth of the resident set in MB.

import { join } from 'node:path'
import { writeTransaction } from '../../src/meta/database.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'

async function main(dir: string): Promise<void> {
  const db = await SqliteDatabase.open(join(dir, 'registry.db'))
  const insert = db.prepare('INSERT INTO upload_sessions (id, repository, size, started_at, updated_at) VALUES (?, ?, 0, 0, 0)')
  const round = async (n: number, from: number) => {
    for (let i = from; i < from + n; i++) {
      await writeTransaction(db, async () => insert.run(`s${i}`, 'a'), { durable: false })
      await db.ping()
    }
  }
  await round(2000, 0)
  const before = process.memoryUsage().rss
  await round(50_000, 2000)
  const grownMb = (process.memoryUsage().rss - before) / 1e6
  const synchronous = db.raw.pragma('synchronous', { simple: true })
  await db.close()
  process.stdout.write(`${JSON.stringify({ grownMb, synchronous })}\n`)
}

void main(process.argv[2] as string).catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`)
  process.exit(1)
})
