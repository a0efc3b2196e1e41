// One log line per request, saying what happened, and the request's metrics. A route notes what
// its request did from the service's answer (a push and its outcome, a pull, a tag or delete);
// when the response is sent, one hook turns that note, the status and the error answered (if
// any) into the line: `pushed hello:1.0.0 (created, 1.2 MiB) by admin`, `deleted tag
// hello:stable (was sha256:...) by admin`, or for anything else `GET /v1/_packs 200 in 3.1 ms
// by admin`. Every line carries the request fields (request id, user, method, route, URL,
// status, bytes in and out, duration, client address). Routes polled by machines or fetched
// with every page (health checks, metrics scrapes, the browser's static files: route config
// `logAtDebug`) are logged at debug, server errors at error. The Authorization header is never
// logged.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Socket } from 'node:net'
import { formatBytes } from '../format.js'
import type { RegistryMetrics, Surface } from '../metrics.js'
import type { ManifestOutcome } from '../oci/pack-bridge.js'

/** What a request did, as its route noted it. */
export type Activity =
  /** A push; `outcome` is set once it is stored (a push noted without one that fails was refused). */
  | { kind: 'push'; what: string | null; outcome?: ManifestOutcome; size?: number; digest?: string }
  | { kind: 'pull'; what: string; digest: string }
  /** Any other change (tags, deletes, blobs), said in words. */
  | { kind: 'change'; summary: string }

declare module 'fastify' {
  interface FastifyRequest {
    activity: Activity | null
  }
  interface FastifyContextConfig {
    /** This route's request lines are debug, so the info log is about what people do. */
    logAtDebug?: boolean
  }
}

/** A push is starting; `what` (`name:tag`) when it is known before the content is read. */
export function notePushAttempt(request: FastifyRequest, what: string | null): void {
  request.activity = { kind: 'push', what }
}

export function notePush(request: FastifyRequest, push: { what: string; outcome: ManifestOutcome; size: number; digest: string }): void {
  request.activity = { kind: 'push', ...push }
}

/** A GET of a manifest or pack archive; a HEAD only asks about it and is not a pull. */
export function notePull(request: FastifyRequest, what: string, digest: string): void {
  if (request.method === 'GET') request.activity = { kind: 'pull', what, digest }
}

/** `summary` says what changed, without who: ` by USER` is added. */
export function noteChange(request: FastifyRequest, summary: string): void {
  request.activity = { kind: 'change', summary }
}

/** `sha256:0123456789ab`: enough of a digest to recognise it in a log line. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':')
  return digest.slice(0, colon + 13)
}

/** Which API a route belongs to, for the push and pull metrics. */
export function surfaceOf(route: string): Surface {
  if (route.startsWith('/v1/_packs')) return 'v1-packs'
  if (route.startsWith('/v1/')) return 'v1-distribution'
  return 'v2'
}

export function installRequestLog(app: FastifyInstance, metrics: RegistryMetrics | null): void {
  app.decorateRequest('activity', null)
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(no route)'
    const status = reply.statusCode
    const ms = Math.round(reply.elapsedTime * 10) / 10
    const { bytesIn, bytesOut } = transferred(request, reply)
    const activity = request.activity
    const fields = {
      user: request.identity?.user,
      method: request.method,
      route,
      url: request.url,
      status,
      ms,
      bytesIn,
      bytesOut,
      ip: request.ip,
      ...(request.failure ? { error: request.failure.code } : {}),
      ...activityFields(activity),
    }
    const message = describe(request, activity, status, ms)
    if (status >= 500) request.log.error(fields, message)
    else if (request.routeOptions.config.logAtDebug === true) request.log.debug(fields, message)
    else request.log.info(fields, message)

    if (!metrics) return
    metrics.request({ method: request.method, route, status, seconds: reply.elapsedTime / 1000, bytesIn, bytesOut })
    if (activity?.kind === 'push') {
      if (activity.outcome !== undefined) metrics.push(surfaceOf(route), activity.outcome)
      else if (status >= 500) metrics.push(surfaceOf(route), 'failed')
      else if (status >= 400) metrics.push(surfaceOf(route), 'refused')
    } else if (activity?.kind === 'pull' && status < 400) {
      metrics.pull(surfaceOf(route))
    }
  })
}

function activityFields(activity: Activity | null): Record<string, unknown> {
  if (activity?.kind === 'push' && activity.outcome !== undefined) return { outcome: activity.outcome, digest: activity.digest }
  if (activity?.kind === 'pull') return { digest: activity.digest }
  return {}
}

function describe(request: FastifyRequest, activity: Activity | null, status: number, ms: number): string {
  const by = request.identity ? ` by ${request.identity.user}` : ''
  const failure = request.failure ? `: ${status} ${request.failure.code}: ${request.failure.message}` : ` (${status})`
  if (activity?.kind === 'push') {
    if (activity.outcome !== undefined) {
      return `pushed ${activity.what} (${activity.outcome}, ${formatBytes(activity.size ?? 0)})${by}`
    }
    return `push${activity.what === null ? '' : ` of ${activity.what}`} refused${by}${failure}`
  }
  if (status < 400) {
    if (activity?.kind === 'pull') return `pulled ${activity.what}${by}`
    if (activity?.kind === 'change') return `${activity.summary}${by}`
  }
  const path = request.url.split('?')[0]
  return request.failure ? `${request.method} ${path}${by}${failure}` : `${request.method} ${path} ${status} in ${ms} ms${by}`
}

/** Bytes read and written on the connection since the previous request on it finished. */
const counted = new WeakMap<Socket, { read: number; written: number }>()

/**
 * What the request took on the wire, headers included: the growth of the socket's counters
 * since the previous request on the same connection. Without a real socket (app.inject), the
 * declared lengths.
 */
function transferred(request: FastifyRequest, reply: FastifyReply): { bytesIn: number; bytesOut: number } {
  const socket = request.raw.socket as Socket | undefined
  if (socket && typeof socket.bytesRead === 'number' && typeof socket.bytesWritten === 'number') {
    const before = counted.get(socket) ?? { read: 0, written: 0 }
    const now = { read: socket.bytesRead, written: socket.bytesWritten }
    counted.set(socket, now)
    return { bytesIn: now.read - before.read, bytesOut: now.written - before.written }
  }
  return { bytesIn: Number(request.headers['content-length'] ?? 0) || 0, bytesOut: Number(reply.getHeader('content-length') ?? 0) || 0 }
}
