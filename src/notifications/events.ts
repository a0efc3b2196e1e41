// Notification events in distribution's format (docs: "Notifications", the event envelope),
// built from a writer's draft and the request it came with, and their CloudEvents 1.0 form.
// The request is found through an AsyncLocalStorage entered for every HTTP request, so the
// services and the metadata layer need not carry it: a change made outside a request
// (start-up work) has empty request fields.

import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { FastifyRequest } from 'fastify'
import type { OutboxAction, OutboxDraft, OutboxEventRow, OutboxRecorder, PackEventDetail } from '../meta/outbox.js'
import type { RepositoryKey } from '../meta/repository-key.js'

/** distribution's envelope media type. */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json'
export const CLOUDEVENTS_BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json'

export interface DistributionEvent {
  id: string
  timestamp: string
  action: OutboxAction
  target: {
    mediaType: string
    size: number
    digest: string
    length: number
    repository: string
    url: string
    tag?: string
    references?: Array<{ mediaType: string; digest: string; size: number }>
    fromRepository?: string
  }
  request: { id: string; addr: string; host: string; method: string; useragent: string }
  actor: { name: string }
  source: { addr: string; instanceID: string }
  pack?: PackEventDetail
}

const requests = new AsyncLocalStorage<FastifyRequest>()

/** Runs the rest of `request`'s handling with it as the current request (a Fastify hook's `done`). */
export function withRequest(request: FastifyRequest, done: () => void): void {
  requests.run(request, done)
}

export interface RecorderSettings {
  /** Where packs appear on /v2: a pack event names the repository a distribution client would. */
  namespace: string
  includeReferences: boolean
  /** http.addr's port, for source.addr (`host:port`, as distribution writes it). */
  port: number
  /** Wakes the senders once a transaction with events is over. */
  wake: () => void
}

export class EventRecorder implements OutboxRecorder {
  /** Distinguishes this process's events from another's (a restart is another instance). */
  readonly instanceID = randomUUID()
  private readonly source: { addr: string; instanceID: string }

  constructor(private readonly settings: RecorderSettings) {
    this.source = { addr: `${hostname()}:${settings.port}`, instanceID: this.instanceID }
  }

  repositoryName(repo: RepositoryKey): string {
    return repo.kind === 'pack' ? `${this.settings.namespace}/${repo.name}` : repo.name
  }

  build(draft: OutboxDraft, at: number): DistributionEvent {
    const request = requests.getStore()
    const repository = this.repositoryName(draft.repository)
    const kind = draft.action === 'mount' || draft.mediaType === 'application/octet-stream' ? 'blobs' : 'manifests'
    const base = request ? `${request.protocol}://${request.host}` : ''
    const target: DistributionEvent['target'] = {
      mediaType: draft.mediaType,
      size: draft.size,
      digest: draft.digest,
      length: draft.size,
      repository,
      url: `${base}/v2/${repository}/${kind}/${draft.digest}`,
    }
    if (draft.tag) target.tag = draft.tag
    if (this.settings.includeReferences && draft.references) target.references = draft.references
    if (draft.fromRepository) target.fromRepository = this.repositoryName(draft.fromRepository)
    const event: DistributionEvent = {
      id: randomUUID(),
      timestamp: new Date(at).toISOString(),
      action: draft.action,
      target,
      request: {
        id: request?.id ?? '',
        addr: request?.ip ?? '',
        host: request?.host ?? '',
        method: request?.method ?? '',
        useragent: request?.headers['user-agent'] ?? '',
      },
      actor: { name: draft.actor },
      source: this.source,
    }
    if (draft.pack) event.pack = draft.pack
    return event
  }

  event(draft: OutboxDraft): OutboxEventRow {
    const at = Date.now()
    return { at, action: draft.action, mediaType: draft.mediaType, event: JSON.stringify(this.build(draft, at)) }
  }

  recorded(): void {
    this.settings.wake()
  }
}

/**
 * The same event as a CloudEvents 1.0 structured JSON event: distribution's event is the data,
 * its id the CloudEvent's id (so duplicates are recognised the same way).
 */
export function cloudEvent(e: DistributionEvent): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: e.id,
    source: `packyard://${e.source.addr}`,
    type: `io.packyard.registry.${e.action}`,
    time: e.timestamp,
    subject: `${e.target.repository}${e.target.tag ? `:${e.target.tag}` : ''}@${e.target.digest}`,
    datacontenttype: 'application/json',
    data: e,
  }
}

/**
 * A batch as one endpoint is sent it, from the events' JSON as the outbox keeps it: the
 * content type and the body. distribution's envelope is put together without parsing them.
 */
export function envelope(format: 'distribution' | 'cloudevents', events: string[]): { contentType: string; body: string } {
  if (format === 'cloudevents') return { contentType: CLOUDEVENTS_BATCH_MEDIA_TYPE, body: JSON.stringify(events.map((e) => cloudEvent(JSON.parse(e) as DistributionEvent))) }
  return { contentType: EVENTS_MEDIA_TYPE, body: `{"events":[${events.join(',')}]}` }
}
