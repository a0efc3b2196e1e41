// Request and response schemas of the /v2 routes. The endpoints under a repository share one
// wildcard route per method (names contain slashes), so each method's schema covers the
// endpoints it serves; manifest and blob bodies are raw bytes and bypass serialization.

import type { Endpoint } from '../../oci/names.js'
import { errorResponses } from '../errors.js'

const noBody = { type: 'null', description: 'no body' } as const

const wildcardParams = {
  type: 'object',
  properties: { '*': { type: 'string', description: '<name>/<endpoint>; the name may contain slashes' } },
  required: ['*'],
} as const

const pageQuery = {
  n: { type: 'integer', minimum: 0, description: 'page size (capped at limits.pagesize)' },
  last: { type: 'string', maxLength: 1024, description: 'the last entry of the previous page' },
} as const

const descriptor = {
  type: 'object',
  properties: {
    mediaType: { type: 'string' },
    digest: { type: 'string' },
    size: { type: 'integer' },
    artifactType: { type: 'string' },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
  required: ['mediaType', 'digest', 'size'],
  additionalProperties: false,
} as const

const tagListSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
  required: ['name', 'tags'],
  additionalProperties: false,
} as const

const referrersIndexSchema = {
  type: 'object',
  properties: {
    schemaVersion: { type: 'integer' },
    mediaType: { type: 'string' },
    manifests: { type: 'array', items: descriptor },
  },
  required: ['schemaVersion', 'mediaType', 'manifests'],
  additionalProperties: false,
} as const

export const versionSchema = {
  summary: 'The API version check (200 with credentials)',
  tags: ['distribution'],
  response: { 200: { type: 'object', additionalProperties: false }, ...errorResponses },
} as const

export const catalogSchema = {
  summary: 'The repositories, paginated: on /v2 every one (packs under oci.namespace), on /v1 the packs',
  tags: ['distribution'],
  querystring: { type: 'object', properties: pageQuery },
  response: {
    200: {
      type: 'object',
      properties: { repositories: { type: 'array', items: { type: 'string' } } },
      required: ['repositories'],
      additionalProperties: false,
    },
    ...errorResponses,
  },
} as const

/** GET and HEAD: manifests, blobs, tags/list, referrers, upload status. */
export const readSchema = {
  summary: 'Manifests (by tag or digest), blobs, tags/list, referrers and upload status under <name>/',
  tags: ['distribution'],
  params: wildcardParams,
  querystring: {
    type: 'object',
    properties: {
      ...pageQuery,
      artifactType: { type: 'string', maxLength: 255, description: 'referrers filter' },
      type: { type: 'string', maxLength: 128, description: 'a blob: the media type to serve it as (image/png, ...)' },
    },
  },
  headers: {
    type: 'object',
    properties: {
      accept: { type: 'string', description: 'manifest media types the client takes' },
      range: { type: 'string', description: 'bytes=<start>-<end> for a blob' },
      'if-none-match': { type: 'string' },
    },
  },
  response: {
    200: {
      description: 'a tag list or a referrers index; manifests and blobs are sent as raw bytes',
      anyOf: [tagListSchema, referrersIndexSchema],
    },
    204: { ...noBody, description: 'upload status (Range, Location, Docker-Upload-UUID)' },
    206: { description: 'a byte range of a blob (raw bytes)' },
    304: noBody,
    ...errorResponses,
  },
} as const

const uploadHeaders = {
  type: 'object',
  properties: {
    'content-type': { type: 'string' },
    'content-length': { type: 'string', pattern: '^[0-9]+$' },
    'content-range': { type: 'string', description: '<start>-<end> of an upload chunk' },
  },
} as const

/** POST <name>/blobs/uploads/: a session, a monolithic upload (?digest=), or a mount. */
export const postSchema = {
  summary: 'Start a blob upload, upload a blob at once (?digest=) or mount one (?mount=&from=)',
  tags: ['distribution'],
  params: wildcardParams,
  querystring: {
    type: 'object',
    properties: {
      digest: { type: 'string', maxLength: 256 },
      mount: { type: 'string', maxLength: 256 },
      from: { type: 'string', maxLength: 512 },
    },
  },
  headers: uploadHeaders,
  response: {
    201: { ...noBody, description: 'blob stored or mounted (Location, Docker-Content-Digest)' },
    202: { ...noBody, description: 'upload session started (Location, Range, Docker-Upload-UUID)' },
    ...errorResponses,
  },
} as const

/** PATCH <name>/blobs/uploads/<uuid>: one chunk. */
export const patchSchema = {
  summary: 'Append a chunk to a blob upload',
  tags: ['distribution'],
  params: wildcardParams,
  headers: uploadHeaders,
  response: {
    202: { ...noBody, description: 'chunk accepted (Location, Range, Docker-Upload-UUID)' },
    ...errorResponses,
  },
} as const

/** PUT: a manifest, or the end of an upload (?digest=). */
export const putSchema = {
  summary: 'Push a manifest, or finish a blob upload (?digest=)',
  tags: ['distribution'],
  params: wildcardParams,
  querystring: { type: 'object', properties: { digest: { type: 'string', maxLength: 256 } } },
  headers: uploadHeaders,
  response: {
    201: { ...noBody, description: 'stored (Location, Docker-Content-Digest, OCI-Subject)' },
    ...errorResponses,
  },
} as const

/** DELETE: a manifest or tag, a blob, or an upload session. */
export const deleteSchema = {
  summary: 'Delete a manifest or tag, unlink a blob, or cancel an upload',
  tags: ['distribution'],
  params: wildcardParams,
  response: {
    202: { ...noBody, description: 'manifest, tag or blob deleted' },
    204: { ...noBody, description: 'upload cancelled' },
    ...errorResponses,
  },
} as const

type Method = 'get' | 'head' | 'put' | 'post' | 'patch' | 'delete'

/**
 * The endpoints behind the wildcard routes as OpenAPI paths under a surface's root, for the
 * description only (the router is parseV2Path). Keyed by every endpoint kind, so a new kind
 * cannot go undocumented.
 */
export const ENDPOINT_PATHS: Record<Endpoint['kind'], { path: string; operations: Partial<Record<Method, string>> }> = {
  manifest: {
    path: '{name}/manifests/{reference}',
    operations: {
      get: 'A manifest by tag or digest, exactly as pushed',
      head: "A manifest's digest, type and size",
      put: 'Push a manifest (a pack manifest under oci.namespace, or on /v1, becomes a pack version)',
      delete: 'Delete a manifest (by digest) or a tag',
    },
  },
  blob: {
    path: '{name}/blobs/{digest}',
    operations: { get: 'A blob, whole or a Range (?type= sets the Content-Type of a pack file)', head: "A blob's size", delete: 'Unlink a blob from the repository' },
  },
  uploads: {
    path: '{name}/blobs/uploads/',
    operations: { post: 'Start an upload, upload a blob in one request (?digest=), or mount one (?mount=&from=)' },
  },
  upload: {
    path: '{name}/blobs/uploads/{uuid}',
    operations: { get: "An upload's progress", patch: 'Append a chunk', put: 'Finish the upload (?digest=), with an optional last chunk', delete: 'Cancel the upload' },
  },
  tags: { path: '{name}/tags/list', operations: { get: 'The tags of a repository, paginated' } },
  referrers: { path: '{name}/referrers/{digest}', operations: { get: 'The manifests whose subject is this digest (?artifactType= filters)' } },
}
