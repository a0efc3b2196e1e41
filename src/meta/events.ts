// The append-only event log (migration 0001 forbids updates and deletes by trigger), and the one
// vocabulary every writer records in it. Written inside the transaction of the change it
// describes, so the log never disagrees with the state.

import type { Statement } from 'better-sqlite3'
import type { Db } from './db.js'

/**
 * - create: a tag that did not exist now points at pushed content
 * - update: a tag moved to other content (a forced push, or an OCI client re-pushing a tag)
 * - tag: a tag was added to content already stored
 * - untag: a tag was deleted
 * - delete: a version / manifest was deleted with its tags
 * - blob.delete: a blob was unlinked from a repository
 */
export type EventAction = 'create' | 'update' | 'tag' | 'untag' | 'delete' | 'blob.delete'

export interface NewEvent {
  at: number
  actor: string
  action: EventAction
  repository: string
  tag: string | null
  oldDigest: string | null
  newDigest: string | null
  forced: boolean
  message: string | null
}

export interface EventRow {
  id: number
  at: number
  actor: string
  action: string
  repository: string
  tag: string | null
  old_digest: string | null
  new_digest: string | null
  forced: number
  message: string | null
}

export class EventLog {
  private readonly insert: Statement
  private readonly historyOfTags: Statement

  constructor(db: Db) {
    this.insert = db.prepare(
      `INSERT INTO events (at, actor, action, repository, tag, old_digest, new_digest, forced, message)
       VALUES (@at, @actor, @action, @repository, @tag, @oldDigest, @newDigest, @forced, @message)`,
    )
    this.historyOfTags = db.prepare(
      `SELECT id, at, actor, action, repository, tag, old_digest, new_digest, forced, message FROM events
       WHERE repository = ? AND (tag IN (SELECT value FROM json_each(?)) OR new_digest = ? OR old_digest = ?) ORDER BY id`,
    )
  }

  /** Inside the transaction of the change it records. */
  append(e: NewEvent): void {
    this.insert.run({ ...e, forced: e.forced ? 1 : 0 })
  }

  /** What happened to these tags of a repository, or to content with `digest`, oldest first. */
  history(repository: string, tags: string[], digest: string): EventRow[] {
    return this.historyOfTags.all(repository, JSON.stringify(tags), digest, digest) as EventRow[]
  }
}
