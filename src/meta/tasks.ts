// The one owner of pending_tasks: work a migration leaves to the code (what SQL alone cannot
// compute, such as parent tags under a new rule), done once at the next start-up. The code that
// does a task deletes its row in the same transaction as the work, so a crash leaves it to do.

import type { Database } from './database.js'

export class PendingTasks {
  constructor(private readonly db: Database) {}

  /** The names of the tasks still to do. */
  async pending(): Promise<string[]> {
    return ((await this.db.prepare('SELECT name FROM pending_tasks ORDER BY name').all()) as Array<{ name: string }>).map((r) => r.name)
  }

  /** Inside the transaction that did the task's work. */
  async finish(name: string): Promise<void> {
    await this.db.prepare('DELETE FROM pending_tasks WHERE name = ?').run(name)
  }
}
