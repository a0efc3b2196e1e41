// The write order of tags (tags.seq), taken by manifests.ts for every tag it writes: the
// parent-tag rule "on a tie, the most recently written version wins" compares it. Read inside
// the writing transaction, so two writers never get the same number (the index of migration
// 0002 keeps it cheap).

import type { Database, Statement } from './database.js'

export class TagSequence {
  private readonly nextStatement: Statement

  constructor(db: Database) {
    this.nextStatement = db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM tags')
  }

  async next(): Promise<number> {
    return ((await this.nextStatement.get()) as { seq: number }).seq
  }
}
