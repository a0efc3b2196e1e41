// The OCI distribution API (spec v1.1) on /v2. Repository names contain slashes, so, like
// distribution's router, one wildcard route per method takes `/v2/*` and the path is split
// from its end (parseV2Path). Every response carries `Docker-Distribution-API-Version`, 401s
// included; every request needs credentials and writes need a writer. Request bodies are not
// parsed: blob bytes stream from the socket to disk, manifests are read up to the size cap.
// Handlers note what a request did (a push and its outcome, a pull, a delete) for its log line
// and the metrics (activity.ts).
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
import { type Endpoint, parseV2Path, type RepositoryLocator } from '../../oci/names.js'
import type { OciRegistry } from '../../oci/registry.js'
import type { OciUploads } from '../../oci/uploads.js'
import type { ChunkExpectation } from '../../store/uploads.js'
import { formatBytes } from '../../format.js'
import { noteChange, notePull, notePush, notePushAttempt, shortDigest } from '../activity.js'
import { sendBlob, sendManifest } from '../blob-response.js'
import { requestBody } from '../request-body.js'
import { actorOf } from '../auth.js'
import { setNextLink } from '../pagination.js'
import { parseContentRange } from './headers.js'
import { catalogSchema, deleteSchema, patchSchema, postSchema, putSchema, readSchema, versionSchema } from './schemas.js'

export interface V2Options {
  registry: OciRegistry
  uploads: OciUploads
  /** limits.manifestsize */
  manifestSize: number
  /** http.bodyidletimeout */
  bodyIdleMs: number
}

interface WildcardRequest {
  Params: { '*': string }
  Querystring: { n?: number; last?: string; artifactType?: string; digest?: string; mount?: string; from?: string }
}


export async function v2Plugin(app: FastifyInstance, opts: V2Options): Promise<void> {
  const { registry, uploads, manifestSize } = opts
  const bodyOf = (request: FastifyRequest): Readable => requestBody(request, opts.bodyIdleMs)

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0')
  })
  app.addHook('onRequest', app.authenticate)
  // Bodies reach the handlers as the raw request stream, whatever their Content-Type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))

  app.get('/', { schema: versionSchema }, async () => ({}))

  app.get<{ Querystring: { n?: number; last?: string } }>('/_catalog', { schema: catalogSchema }, async (request, reply) => {
    const page = registry.catalog(request.query)
    setNextLink(reply, '/v2/_catalog', {}, page)
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
          const manifest = registry.manifest(repo, endpoint.reference)
          notePull(request, `${repo.oci}${referenceSeparator(endpoint.reference)}${endpoint.reference}`, manifest.digest)
          return sendManifest(request, reply, manifest, endpoint.reference)
        }
        case 'blob':
          return serveBlob(request, reply, repo, endpoint.digest)
        case 'tags': {
          const page = registry.tags(repo, request.query)
          setNextLink(reply, `/v2/${repo.oci}/tags/list`, {}, page)
          return { name: repo.oci, tags: page.items }
        }
        case 'referrers': {
          const { artifactType } = request.query
          const page = registry.referrers(repo, endpoint.digest, artifactType ?? null, request.query)
          if (artifactType !== undefined) reply.header('oci-filters-applied', 'artifactType')
          setNextLink(reply, `/v2/${repo.oci}/referrers/${endpoint.digest}`, { artifactType }, page)
          // Serialized by the route's schema, sent as bytes so the media type stays exact.
          const body = reply.serialize({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: page.items })
          return reply.type(OCI_INDEX).send(Buffer.from(body as string))
        }
        case 'upload': {
          const size = await uploads.status(repo, endpoint.id)
          return uploadAccepted(reply.code(204), repo, endpoint.id, size).send()
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
        const mounted = uploads.mount(repo, mount, registry.locate(from))
        if (mounted) {
          noteChange(request, `mounted blob ${shortDigest(mounted.digest)} (${formatBytes(mounted.size)}) from ${from} into ${repo.oci}`)
          return blobCreated(reply, repo, mounted.digest)
        }
      }
      if (digest !== undefined) {
        const blob = await uploads.monolithic(repo, digest, bodyOf(request), contentLength(request))
        noteChange(request, `stored blob ${shortDigest(blob.digest)} (${formatBytes(blob.size)}) in ${repo.oci}`)
        return blobCreated(reply, repo, blob.digest)
      }
      const id = await uploads.start(repo)
      return uploadAccepted(reply.code(202), repo, id, 0).send()
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
      const size = await withUploadHeaders(repo, endpoint.id, () => uploads.append(repo, endpoint.id, bodyOf(request), chunkOf(request)))
      return uploadAccepted(reply.code(202), repo, endpoint.id, size).send()
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
        const blob = await withUploadHeaders(repo, endpoint.id, () => uploads.finish(repo, endpoint.id, digest, source, chunkOf(request)))
        noteChange(request, `stored blob ${shortDigest(blob.digest)} (${formatBytes(blob.size)}) in ${repo.oci}`)
        return blobCreated(reply, repo, blob.digest)
      }
      if (endpoint.kind !== 'manifest') throw unsupportedMethod(request, endpoint)
      const what = `${repo.oci}${referenceSeparator(endpoint.reference)}${endpoint.reference}`
      notePushAttempt(request, what)
      const body = await readManifestBody(request)
      const pushed = await registry.putManifest(repo, endpoint.reference, body, request.headers['content-type'], actorOf(request))
      notePush(request, { what, outcome: pushed.outcome, size: pushed.size, digest: pushed.digest })
      if (pushed.subject !== null) reply.header('oci-subject', pushed.subject)
      return reply
        .code(201)
        .header('location', `/v2/${repo.oci}/manifests/${pushed.digest}`)
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
          noteChange(request, reference.includes(':') ? `deleted manifest ${repo.oci}@${shortDigest(reference)} and its tags` : `deleted tag ${repo.oci}:${reference}`)
          return reply.code(202).header('content-length', '0').send()
        }
        case 'blob':
          registry.deleteBlob(repo, endpoint.digest, actorOf(request))
          noteChange(request, `unlinked blob ${shortDigest(endpoint.digest)} from ${repo.oci}`)
          return reply.code(202).header('content-length', '0').send()
        case 'upload':
          await uploads.cancel(repo, endpoint.id)
          noteChange(request, `cancelled upload ${endpoint.id} to ${repo.oci}`)
          return reply.code(204).send()
        default:
          throw unsupportedMethod(request, endpoint)
      }
    },
  })

  function route(request: FastifyRequest<WildcardRequest>): { endpoint: Endpoint; repo: RepositoryLocator } {
    const endpoint = parseV2Path(request.params['*'])
    if (!endpoint) throw new RegistryError('NOT_FOUND', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`)
    return { endpoint, repo: registry.locate(endpoint.name) }
  }

  async function serveBlob(request: FastifyRequest<WildcardRequest>, reply: FastifyReply, repo: RepositoryLocator, digest: string) {
    const blob = await registry.blob(repo, digest)
    return sendBlob(request, reply, {
      digest: blob.digest,
      size: blob.size,
      contentType: 'application/octet-stream',
      open: (range) => registry.openBlob(blob.digest, range),
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

/** `repo:tag`, but `repo@sha256:...`. */
function referenceSeparator(reference: string): string {
  return reference.includes(':') ? '@' : ':'
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
function uploadAccepted(reply: FastifyReply, repo: RepositoryLocator, id: string, size: number): FastifyReply {
  return reply
    .header('location', `/v2/${repo.oci}/blobs/uploads/${id}`)
    .header('range', `0-${Math.max(0, size - 1)}`)
    .header('docker-upload-uuid', id)
    .header('content-length', '0')
}

function blobCreated(reply: FastifyReply, repo: RepositoryLocator, digest: string): FastifyReply {
  return reply
    .code(201)
    .header('location', `/v2/${repo.oci}/blobs/${digest}`)
    .header('docker-content-digest', digest)
    .header('content-length', '0')
    .send()
}

/** A 416 tells the client where the upload stands, so it can resume from there. */
async function withUploadHeaders<T>(repo: RepositoryLocator, id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isRegistryError(err) && err.code === 'RANGE_INVALID' && typeof err.detail?.size === 'number') {
      const size = err.detail.size
      throw new RegistryError(err.code, err.message, err.detail, {
        ...err.headers,
        location: `/v2/${repo.oci}/blobs/uploads/${id}`,
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
