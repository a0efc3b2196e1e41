// The audit trail: the event log as the API shows it (GET /v1/_events, `packyard events`), and
// the events that do not come from a registry write: login lockouts, which the authenticator
// reports and this records in their own transaction. Pages follow the event ids, so events
// appended while a client pages through are never skipped or repeated.

import { EventLog, type EventRow, NO_REPOSITORY } from './meta/events.js'
import type { Database } from './meta/database.js'
import { fetchPage, type Page, type PageRequest } from './pages.js'

export interface EventView {
  id: number
  at: string
  action: string
  /** Who did it: the authenticated user ('anonymous' on an open registry); for a lockout, the user name tried. */
  user: string
  /** The pack or OCI repository; null for events about the registry as a whole (gc, lockout). */
  repository: string | null
  tag: string | null
  oldDigest: string | null
  newDigest: string | null
  forced: boolean
  /** The change message given with a push; for a delete, the tags it removed. */
  message: string | null
  /** Extras of the action: what garbage collection removed, the address of a lockout. */
  detail: Record<string, unknown> | null
  /** replica.id of the server that handled it; null for operator commands (and events from before replicas were recorded). */
  replica: string | null
}

export interface EventQuery {
  /** ms since the epoch */
  since?: number | undefined
  repository?: string | undefined
  user?: string | undefined
}

export interface Lockout {
  address: string
  /** null when the whole address is locked out. */
  user: string | null
  failures: number
  forMs: number
}

export class AuditTrail {
  private readonly events: EventLog

  constructor(
    db: Database,
    private readonly maxPageSize: number,
  ) {
    this.events = new EventLog(db)
  }

  /** Events matching `query`, oldest first; `last` is the id of the last event already seen. */
  page(query: EventQuery, request: PageRequest): Promise<Page<EventView>> {
    const filter = { since: query.since, repository: query.repository, actor: query.user }
    return fetchPage(request, this.maxPageSize, (e: EventView) => String(e.id), async (after, limit) => (await this.events.list(filter, after === '' ? 0 : Number(after), limit)).map(eventView))
  }

  async recordLockout(lockout: Lockout): Promise<void> {
    await this.events.appendRegistryEvent(lockout.user ?? '', 'lockout', {
      address: lockout.address,
      scope: lockout.user === null ? 'address' : 'user',
      failures: lockout.failures,
      lockoutSeconds: Math.round(lockout.forMs / 1000),
    })
  }
}

function eventView(row: EventRow): EventView {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    action: row.action,
    user: row.actor,
    repository: row.repository === NO_REPOSITORY ? null : row.repository,
    tag: row.tag,
    oldDigest: row.old_digest,
    newDigest: row.new_digest,
    forced: row.forced === 1,
    message: row.message,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
    replica: row.replica,
  }
}
