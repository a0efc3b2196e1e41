// Request authentication hooks. Each protected API plugin adds `authenticate` as an onRequest
// hook; routes that change state add `requireWriter`. With `auth: none` every request is an
// anonymous writer (the open mode, chosen explicitly and announced loudly at start-up).

import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Authenticator, Identity } from '../auth/authenticator.js'
import { RegistryError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | null
  }
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>
    requireWriter: (request: FastifyRequest) => Promise<void>
  }
}

const ANONYMOUS: Identity = { user: 'anonymous', writer: true }

/** Who did it, for the event log: the authenticated user, or anonymous on an open registry. */
export function actorOf(request: FastifyRequest): string {
  return request.identity?.user ?? 'anonymous'
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: { authenticator: Authenticator | null }) => {
    const authenticator = opts.authenticator
    app.decorateRequest('identity', null)
    app.decorate('authenticate', async (request: FastifyRequest) => {
      request.identity = authenticator ? await authenticator.authenticate(request.headers.authorization, request.ip) : ANONYMOUS
    })
    app.decorate('requireWriter', async (request: FastifyRequest) => {
      const identity = request.identity
      if (!identity?.writer) {
        throw new RegistryError('DENIED', `user ${identity?.user ?? '(none)'} may read but not push, tag or delete; ask an operator to add it to auth.access.writers`)
      }
    })
  },
  { name: 'packyard-auth' },
)
