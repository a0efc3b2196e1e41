// GET /v1/_notifications: each configured endpoint's delivery state (pending, delivered, failed
// attempts, dropped, the last error); POST /v1/_notifications/NAME/retry: send what is pending
// for NAME now, out of its backoff. Writers only: the state names receivers and their errors.
// A registry without endpoints answers an empty list.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { RegistryError } from '../../errors.js'
import type { Notifications } from '../../notifications/sender.js'
import { notificationRetrySchema, notificationsSchema } from './schemas.js'

async function requireWriterForNotifications(request: FastifyRequest): Promise<void> {
  if (!request.identity?.writer) {
    throw new RegistryError('DENIED', `notifications are for writers only, and user ${request.identity?.user ?? '(none)'} is not one; ask an operator to add it to auth.access.writers`)
  }
}

export async function v1NotificationsPlugin(app: FastifyInstance, opts: { notifications: Notifications | null }): Promise<void> {
  const { notifications } = opts
  app.get('/_notifications', { schema: notificationsSchema, onRequest: requireWriterForNotifications }, async () => ({ endpoints: (await notifications?.status()) ?? [] }))

  app.post<{ Params: { name: string } }>('/_notifications/:name/retry', { schema: notificationRetrySchema, onRequest: requireWriterForNotifications }, async (request, reply) => {
    const { name } = request.params
    const endpoints = (await notifications?.status()) ?? []
    const status = endpoints.find((e) => e.name === name)
    if (!status) {
      const known = endpoints.map((e) => e.name)
      throw new RegistryError('NOT_FOUND', `no notification endpoint ${name}${known.length > 0 ? ` (configured: ${known.join(', ')})` : ' (notifications.endpoints is empty)'}`, { name })
    }
    if (!notifications?.retry(name)) throw new RegistryError('BAD_REQUEST', `endpoint ${name} is disabled; set disabled: false in its config to send to it`, { name })
    return reply.code(202).send({ endpoint: status })
  })
}
