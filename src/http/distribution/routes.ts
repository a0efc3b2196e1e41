// The OCI distribution API (spec v1.1), mounted on /v2 and on /v1 (surface.ts says what differs).
// Repository names contain slashes, so, like distribution's router, one wildcard route per
// method takes `<prefix>/*` and the path is split from its end (parseV2Path). Every response
// carries `Docker-Distribution-API-Version`, 401s included, and every request is authenticated
// (both by the mounting plugin, apiVersionHeader below); writes, and reading an upload
// session's status, need a writer. Request bodies are not parsed: blob bytes stream
// from the socket to disk, manifests are read up to the size cap. Handlers note what a request
// did (a push and its outcome, a pull, a delete) for its log line and the metrics (activity.ts).
//
// Choices where the spec leaves one:
// - Accept: a manifest is served in its stored form only; when the client's Accept lists
//   manifest types but not that one, the answer is 404 MANIFEST_UNKNOWN, as in distribution
//   (no Accept, */* or an Accept naming no manifest type takes anything). An index is never
//   swapped for one of its platform manifests: a tag always means one digest.
// - DELETE by tag removes only the tag (spec v1.1); by digest, the manifest and its tags.
// - DELETE of a blob unlinks it from the repository; garbage collection frees the bytes.
// - Listings are capped at limits.pagesize whether or not `n` is given, with a Link header.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { isRegistryError, RegistryError } from '../../errors.js'
import { OCI_INDEX } from '../../oci/manifests.js'
import type { PullThrough } from '../../sync/on-demand.js'
import { type Endpoint, parseV2Path, type RepositoryLocator } from '../../oci/names.js'
import type { OciRegistry } from '../../oci/registry.js'
import type { OciUploads } from '../../oci/uploads.js'
import type { ChunkExpectation } from '../../store/uploads.js'
import { formatBytes } from '../../format.js'
import { noteChange, notePull, notePush, notePushAttempt, shortDigest } from '../activity.js'
import { type BlobRedirect, sendBlob, sendManifest, servableType } from '../blob-response.js'
import { requestBody } from '../request-body.js'
import { actorOf } from '../auth.js'
import { setNextLink } from '../pagination.js'
import { parseContentRange } from './headers.js'
import { catalogSchema, deleteSchema, patchSchema, postSchema, putSchema, readSchema, referrersIndexSchema } from './schemas.js'
import type { Surface } from './surface.js'

export interface DistributionOptions {
  registry: OciRegistry
  uploads: OciUploads
  surface: Surface
  /** limits.manifestsize */
  manifestSize: number
  /** http.bodyidletimeout */
  bodyIdleMs: number
  /** A pre-signed download URL for a blob, when blob GETs redirect to the storage (S3); else null. */
  blobRedirect: BlobRedirect | null
  /** storage.filesystem.accelredirect: nginx's internal location over the blob files, which sends blob GETs' bytes; else null. */
  accelRedirect: string | null
  /** Pull-through: fetches a pack (a tag of it) that is not here from an on-demand upstream before a pull reads it; null without one. */
  onDemand: PullThrough | null
}

interface WildcardRequest {
  Params: { '*': string }
  Querystring: { n?: number; last?: string; artifactType?: string; digest?: string; mount?: string; from?: string; type?: string }
}

/** What a distribution client checks for; added before authentication so a 401 has it too. */
export function apiVersionHeader(app: FastifyInstance): void {
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0')
  })
}

export async function distributionRoutes(app: FastifyInstance, opts: DistributionOptions): Promise<void> {
  const { registry, uploads, manifestSize, surface } = opts
  const bodyOf = (request: FastifyRequest): Readable => requestBody(request, opts.bodyIdleMs)
  /** `<prefix>/<name on this surface><rest>`, for Location and Link headers. */
  const pathOf = (repo: RepositoryLocator, rest: string) => `${surface.prefix}/${surface.nameOf(repo)}${rest}`
  /** `name:tag` or `name@sha256:...`, as the log names what a request pushed or pulled. */
  const refOf = (repo: RepositoryLocator, reference: string) => `${surface.nameOf(repo)}${reference.includes(':') ? '@' : ':'}${reference}`

  // Bodies reach the handlers as the raw request stream, whatever their Content-Type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))

  app.get<{ Querystring: { n?: number; last?: string } }>('/_catalog', { schema: catalogSchema }, async (request, reply) => {
    const page = await surface.catalog(request.query)
    setNextLink(reply, `${surface.prefix}/_catalog`, {}, page)
    return { repositories: page.items }
  })

  app.route<WildcardRequest>({
    method: ['GET', 'HEAD'],
    url: '/*',
    schema: readSchema,
    handler: async (request, reply) => {
      const { endpoint, repo } = route(request)
      switch (endpoint.kind) {
        case 'manifest': {
          if (repo.kind === 'pack') await opts.onDemand?.(repo.name, endpoint.reference)
          const manifest = await registry.manifest(repo, endpoint.reference)
          notePull(request, refOf(repo, endpoint.reference), manifest.digest)
          if (request.method === 'GET') registry.pulled(repo, endpoint.reference, manifest, actorOf(request))
          return sendManifest(request, reply, manifest, endpoint.reference)
        }
        case 'blob':
          return serveBlob(request, reply, repo, endpoint.digest)
        case 'tags': {
          const page = await registry.tags(repo, request.query, surface.listsParentTags(repo))
          setNextLink(reply, pathOf(repo, '/tags/list'), {}, page)
          return { name: surface.nameOf(repo), tags: page.items }
        }
        case 'referrers': {
          const { artifactType } = request.query
          const page = await registry.referrers(repo, endpoint.digest, artifactType ?? null, request.query)
          if (artifactType !== undefined) reply.header('oci-filters-applied', 'artifactType')
          setNextLink(reply, pathOf(repo, `/referrers/${endpoint.digest}`), { artifactType }, page)
          // Serialized by its schema, sent as bytes so the media type stays exact.
          const body = reply.serializeInput({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: page.items }, referrersIndexSchema)
          return reply.type(OCI_INDEX).send(Buffer.from(body as string))
        }
        case 'upload': {
          // A session's status is part of a push: distribution asks for push access here too.
          await app.requireWriter(request)
          const size = await uploads.status(repo, endpoint.id)
          return uploadAccepted(reply.code(204), pathOf(repo, `/blobs/uploads/${endpoint.id}`), endpoint.id, size).send()
        }
        default:
          throw unsupportedMethod(request, endpoint)
      }
    },
  })

  app.route<WildcardRequest>({
    method: 'POST',
    url: '/*',
    schema: postSchema,
    onRequest: app.requireWriter,
    handler: async (request, reply) => {
      const { endpoint, repo } = route(request)
      if (endpoint.kind !== 'uploads') throw unsupportedMethod(request, endpoint)
      const { digest, mount, from } = request.query
      if (mount !== undefined && from !== undefined) {
        // Not found in `from`: fall back to an ordinary upload session, as the spec says.
        const mounted = await uploads.mount(repo, mount, surface.locate(from), actorOf(request))
        if (mounted) {
          noteChange(request, `mounted blob ${shortDigest(mounted.digest)} (${formatBytes(mounted.size)}) from ${from} into ${surface.nameOf(repo)}`)
          return blobCreated(reply, pathOf(repo, `/blobs/${mounted.digest}`), mounted.digest)
        }
      }
      if (digest !== undefined) {
        const blob = await uploads.monolithic(repo, digest, bodyOf(request), contentLength(request))
        noteChange(request, `stored blob ${shortDigest(blob.digest)} (${formatBytes(blob.size)}) in ${surface.nameOf(repo)}`)
        return blobCreated(reply, pathOf(repo, `/blobs/${blob.digest}`), blob.digest)
      }
      const id = await uploads.start(repo, actorOf(request))
      return uploadAccepted(reply.code(202), pathOf(repo, `/blobs/uploads/${id}`), id, 0).send()
    },
  })

  app.route<WildcardRequest>({
    method: 'PATCH',
    url: '/*',
    schema: patchSchema,
    onRequest: app.requireWriter,
    handler: async (request, reply) => {
      const { endpoint, repo } = route(request)
      if (endpoint.kind !== 'upload') throw unsupportedMethod(request, endpoint)
      const size = await withUploadHeaders(pathOf(repo, `/blobs/uploads/${endpoint.id}`), endpoint.id, () => uploads.append(repo, endpoint.id, bodyOf(request), chunkOf(request)))
      return uploadAccepted(reply.code(202), pathOf(repo, `/blobs/uploads/${endpoint.id}`), endpoint.id, size).send()
    },
  })

  app.route<WildcardRequest>({
    method: 'PUT',
    url: '/*',
    schema: putSchema,
    onRequest: app.requireWriter,
    handler: async (request, reply) => {
      const { endpoint, repo } = route(request)
      if (endpoint.kind === 'upload') {
        const { digest } = request.query
        if (digest === undefined) throw new RegistryError('DIGEST_INVALID', 'finishing an upload needs ?digest=<digest of the whole blob>')
        const source = request.body === undefined ? null : bodyOf(request)
        const blob = await withUploadHeaders(pathOf(repo, `/blobs/uploads/${endpoint.id}`), endpoint.id, () => uploads.finish(repo, endpoint.id, digest, source, chunkOf(request)))
        noteChange(request, `stored blob ${shortDigest(blob.digest)} (${formatBytes(blob.size)}) in ${surface.nameOf(repo)}`)
        return blobCreated(reply, pathOf(repo, `/blobs/${blob.digest}`), blob.digest)
      }
      if (endpoint.kind !== 'manifest') throw unsupportedMethod(request, endpoint)
      const what = refOf(repo, endpoint.reference)
      notePushAttempt(request, what)
      const body = await readManifestBody(request)
      const pushed = await registry.putManifest(repo, endpoint.reference, body, request.headers['content-type'], actorOf(request))
      notePush(request, { what, outcome: pushed.outcome, size: pushed.size, digest: pushed.digest })
      if (pushed.subject !== null) reply.header('oci-subject', pushed.subject)
      return reply
        .code(201)
        .header('location', pathOf(repo, `/manifests/${pushed.digest}`))
        .header('docker-content-digest', pushed.digest)
        .header('content-length', '0')
        .send()
    },
  })

  app.route<WildcardRequest>({
    method: 'DELETE',
    url: '/*',
    schema: deleteSchema,
    onRequest: app.requireWriter,
    handler: async (request, reply) => {
      const { endpoint, repo } = route(request)
      switch (endpoint.kind) {
        case 'manifest': {
          const { reference } = endpoint
          await registry.deleteManifest(repo, reference, actorOf(request))
          noteChange(request, reference.includes(':') ? `deleted manifest ${surface.nameOf(repo)}@${shortDigest(reference)} and its tags` : `deleted tag ${refOf(repo, reference)}`)
          return reply.code(202).header('content-length', '0').send()
        }
        case 'blob':
          await registry.deleteBlob(repo, endpoint.digest, actorOf(request))
          noteChange(request, `unlinked blob ${shortDigest(endpoint.digest)} from ${surface.nameOf(repo)}`)
          return reply.code(202).header('content-length', '0').send()
        case 'upload':
          await uploads.cancel(repo, endpoint.id)
          noteChange(request, `cancelled upload ${endpoint.id} to ${surface.nameOf(repo)}`)
          return reply.code(204).send()
        default:
          throw unsupportedMethod(request, endpoint)
      }
    },
  })

  function route(request: FastifyRequest<WildcardRequest>): { endpoint: Endpoint; repo: RepositoryLocator } {
    const endpoint = parseV2Path(request.params['*'])
    if (!endpoint) throw new RegistryError('NOT_FOUND', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`)
    return { endpoint, repo: surface.locate(endpoint.name) }
  }

  /** `?type=` names the media type to serve it as (Spectro's logo URLs), from an allow-list. */
  async function serveBlob(request: FastifyRequest<WildcardRequest>, reply: FastifyReply, repo: RepositoryLocator, digest: string) {
    const contentType = servableType(request.query.type)
    const blob = await registry.blob(repo, digest)
    return sendBlob(request, reply, {
      digest: blob.digest,
      size: blob.size,
      contentType,
      open: (range) => registry.openBlob(blob.digest, range),
      redirect: opts.blobRedirect && ((headers) => (opts.blobRedirect as BlobRedirect)(blob.digest, headers)),
      accel: opts.accelRedirect,
    })
  }

  async function readManifestBody(request: FastifyRequest): Promise<Buffer> {
    const declared = contentLength(request)
    if (declared !== undefined && declared > manifestSize) throw manifestTooLarge()
    if (request.body === undefined) return Buffer.alloc(0)
    return readCapped(bodyOf(request), manifestSize)
  }

  function manifestTooLarge(): RegistryError {
    return new RegistryError('PAYLOAD_TOO_LARGE', `manifest is larger than the limit of ${manifestSize} bytes (limits.manifestsize)`, { limit: manifestSize })
  }

  /** Reads at most `cap` bytes; past that, stops collecting and lets the rest drain away. */
  function readCapped(stream: Readable, cap: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      const done = () => {
        stream.off('data', onData).off('end', onEnd).off('error', onError)
      }
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size > cap) {
          done()
          // Drained rather than destroyed, so the client still receives the 413.
          stream.resume()
          reject(manifestTooLarge())
          return
        }
        chunks.push(chunk)
      }
      const onEnd = () => {
        done()
        resolve(Buffer.concat(chunks))
      }
      const onError = (err: Error) => {
        done()
        reject(err)
      }
      stream.on('data', onData).on('end', onEnd).on('error', onError)
    })
  }
}

function contentLength(request: FastifyRequest): number | undefined {
  const value = request.headers['content-length']
  return value === undefined ? undefined : Number(value)
}

/** Offset and length of an upload chunk from Content-Range and Content-Length. */
function chunkOf(request: FastifyRequest): ChunkExpectation {
  const range = parseContentRange(request.headers['content-range'] as string | undefined)
  const length = contentLength(request)
  if (!range) return { length }
  const declared = range.end - range.start + 1
  if (length !== undefined && length !== declared) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range covers ${declared} bytes but Content-Length is ${length}`, { contentRange: `${range.start}-${range.end}`, contentLength: length })
  }
  return { offset: range.start, length: declared }
}

/** Location, Range (distribution's `0-<last byte>`, `0-0` when empty) and the session id. */
function uploadAccepted(reply: FastifyReply, location: string, id: string, size: number): FastifyReply {
  return reply
    .header('location', location)
    .header('range', `0-${Math.max(0, size - 1)}`)
    .header('docker-upload-uuid', id)
    .header('content-length', '0')
}

function blobCreated(reply: FastifyReply, location: string, digest: string): FastifyReply {
  return reply
    .code(201)
    .header('location', location)
    .header('docker-content-digest', digest)
    .header('content-length', '0')
    .send()
}

/** A 416 tells the client where the upload stands, so it can resume from there. */
async function withUploadHeaders<T>(location: string, id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isRegistryError(err) && err.code === 'RANGE_INVALID' && typeof err.detail?.size === 'number') {
      const size = err.detail.size
      throw new RegistryError(err.code, err.message, err.detail, {
        ...err.headers,
        location,
        range: `0-${Math.max(0, size - 1)}`,
        'docker-upload-uuid': id,
      })
    }
    throw err
  }
}

function unsupportedMethod(request: FastifyRequest, endpoint: Endpoint): RegistryError {
  return new RegistryError('UNSUPPORTED', `${request.method} is not supported on ${endpoint.kind} endpoints`, { method: request.method })
}
