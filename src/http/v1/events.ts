// GET /v1/_events: the audit trail, oldest first, paginated like every listing (`n`, `last`,
// a Link header to the next page), filtered by time (`since`), pack or repository (`pack`) and
// user (`user`). Only writers may read it: it names every user, address and change.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AuditTrail } from '../../audit.js'
import { RegistryError } from '../../errors.js'
import { setNextLink } from '../pagination.js'
import { eventsSchema } from './schemas.js'

interface EventsRequest {
  Querystring: { since?: string; pack?: string; user?: string; n?: number; last?: string }
}

async function requireWriterForEvents(request: FastifyRequest): Promise<void> {
  if (!request.identity?.writer) {
    throw new RegistryError('DENIED', `the event log is for writers only, and user ${request.identity?.user ?? '(none)'} is not one; ask an operator to add it to auth.access.writers`)
  }
}

export async function v1EventsPlugin(app: FastifyInstance, opts: { audit: AuditTrail }): Promise<void> {
  app.get<EventsRequest>('/_events', { schema: eventsSchema, onRequest: requireWriterForEvents }, async (request, reply) => {
    const { since, pack, user } = request.query
    const sinceMs = since === undefined ? undefined : Date.parse(since)
    // The schema's date-time format admits a few forms Date.parse does not read (an offset of
    // hours only, a leap second): refused, never taken as "no events".
    if (sinceMs !== undefined && !Number.isFinite(sinceMs)) {
      throw new RegistryError('BAD_REQUEST', `since=${since} is not a time this registry can read; use the form 2026-11-23T06:00:00Z`, { since })
    }
    const page = await opts.audit.page({ since: sinceMs, repository: pack, user }, request.query)
    setNextLink(reply, '/v1/_events', { since, pack, user }, page)
    return { events: page.items }
  })
}
