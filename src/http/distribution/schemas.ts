// Request and response schemas of the distribution routes (on /v2, and on /v1 as
// spectro-registry serves them). The endpoints under a repository share one wildcard route per
// method (names contain slashes), so each method's schema covers the endpoints it serves;
// manifest and blob bodies are raw bytes and bypass serialization. ENDPOINT_PATHS describes
// those endpoints one by one for /openapi.json. A `requestBody` is for the description only:
// the handlers read the body as a stream. Each operationId gets the surface's root in front
// (v2GetManifest) in the description, since the same routes serve /v1 and /v2.

import { MANIFEST_MEDIA_TYPES, OCI_INDEX } from '../../oci/manifests.js'
import type { Endpoint } from '../../oci/names.js'
import { noBody, rawBody } from '../bodies.js'
import { errorResponses } from '../errors.js'

const wildcardParams = {
  type: 'object',
  properties: { '*': { type: 'string', title: 'path', description: '<name>/<endpoint>, e.g. hello/manifests/1.0.0; the name may contain slashes' } },
  required: ['*'],
} as const

const BLOB_TYPES = ['application/octet-stream']

/** A manifest, byte for byte as pushed, in its own media type. */
const manifestBody = (description: string) => ({
  description,
  content: Object.fromEntries(MANIFEST_MEDIA_TYPES.map((type) => [type, { schema: { type: 'object', additionalProperties: true } }])),
})
const blobBody = (description: string) => rawBody(description, BLOB_TYPES)

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

/** Referrers answers are serialized by this schema (their media type is not the route's JSON). */
export const referrersIndexSchema = {
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
  operationId: 'checkApiVersion',
  summary: 'The API version check (200 with credentials)',
  tags: ['distribution'],
  response: { 200: { type: 'object', additionalProperties: false }, ...errorResponses },
} as const

export const catalogSchema = {
  operationId: 'getCatalog',
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
  operationId: 'getInRepository',
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
      description: 'a manifest, a blob, a tag list or a referrers index',
      content: {
        ...manifestBody('').content,
        [OCI_INDEX]: { schema: { description: 'an index manifest, or the referrers index', anyOf: [referrersIndexSchema, { type: 'object', additionalProperties: true }] } },
        'application/json': { schema: tagListSchema },
        ...blobBody('').content,
      },
    },
    204: noBody('upload status (Range, Location, Docker-Upload-UUID)'),
    206: blobBody('a byte range of a blob'),
    304: noBody('not modified (If-None-Match)'),
    307: noBody('a blob: download it from the storage (Location; storage.redirect on S3)'),
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
  operationId: 'postInRepository',
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
  requestBody: blobBody('with ?digest=, the whole blob'),
  response: {
    201: noBody('blob stored or mounted (Location, Docker-Content-Digest)'),
    202: noBody('upload session started (Location, Range, Docker-Upload-UUID)'),
    ...errorResponses,
  },
} as const

/** PATCH <name>/blobs/uploads/<uuid>: one chunk. */
export const patchSchema = {
  operationId: 'patchInRepository',
  summary: 'Append a chunk to a blob upload',
  tags: ['distribution'],
  params: wildcardParams,
  headers: uploadHeaders,
  requestBody: blobBody('the chunk'),
  response: {
    202: noBody('chunk accepted (Location, Range, Docker-Upload-UUID)'),
    ...errorResponses,
  },
} as const

/** PUT: a manifest, or the end of an upload (?digest=). */
export const putSchema = {
  operationId: 'putInRepository',
  summary: 'Push a manifest, or finish a blob upload (?digest=)',
  tags: ['distribution'],
  params: wildcardParams,
  querystring: { type: 'object', properties: { digest: { type: 'string', maxLength: 256 } } },
  headers: uploadHeaders,
  requestBody: { description: 'a manifest, or the last chunk of an upload', content: { ...manifestBody('').content, ...blobBody('').content } },
  response: {
    201: noBody('stored (Location, Docker-Content-Digest, OCI-Subject)'),
    ...errorResponses,
  },
} as const

/** DELETE: a manifest or tag, a blob, or an upload session. */
export const deleteSchema = {
  operationId: 'deleteInRepository',
  summary: 'Delete a manifest or tag, unlink a blob, or cancel an upload',
  tags: ['distribution'],
  params: wildcardParams,
  response: {
    202: noBody('manifest, tag or blob deleted'),
    204: noBody('upload cancelled'),
    ...errorResponses,
  },
} as const

type Method = 'get' | 'head' | 'put' | 'post' | 'patch' | 'delete'

/** One endpoint's operation in the description: its responses besides the error envelope. */
export interface EndpointOperation {
  operationId: string
  summary: string
  query?: Record<string, object>
  requestBody?: { description: string; content: Record<string, { schema: object }>; required: boolean }
  responses: Record<string, object>
}

const MANIFEST_HEADERS = 'Docker-Content-Digest, Content-Type, Content-Length'

/**
 * The endpoints behind the wildcard routes as OpenAPI paths under a surface's root, for the
 * description only (the router is parseV2Path). Keyed by every endpoint kind, so a new kind
 * cannot go undocumented.
 */
export const ENDPOINT_PATHS: Record<Endpoint['kind'], { path: string; operations: Partial<Record<Method, EndpointOperation>> }> = {
  manifest: {
    path: '{name}/manifests/{reference}',
    operations: {
      get: {
        operationId: 'getManifest',
        summary: 'A manifest by tag or digest, exactly as pushed',
        responses: { 200: manifestBody(`the manifest (${MANIFEST_HEADERS})`), 304: noBody('not modified (If-None-Match)') },
      },
      head: { operationId: 'headManifest', summary: "A manifest's digest, type and size", responses: { 200: noBody(MANIFEST_HEADERS) } },
      put: {
        operationId: 'putManifest',
        summary: 'Push a manifest (a pack manifest under oci.namespace, or on /v1, becomes a pack version)',
        requestBody: { ...manifestBody('the manifest, with its media type as Content-Type'), required: true },
        responses: { 201: noBody('stored (Location, Docker-Content-Digest, OCI-Subject)') },
      },
      delete: { operationId: 'deleteManifest', summary: 'Delete a manifest (by digest) or a tag', responses: { 202: noBody('deleted') } },
    },
  },
  blob: {
    path: '{name}/blobs/{digest}',
    operations: {
      get: {
        operationId: 'getBlob',
        summary: 'A blob, whole or a Range (?type= sets the Content-Type of a pack file)',
        query: { type: readSchema.querystring.properties.type },
        responses: {
          200: blobBody('the blob'),
          206: blobBody('the requested range'),
          304: noBody('not modified (If-None-Match)'),
          307: noBody('download it from the storage (Location; storage.redirect on S3)'),
        },
      },
      head: { operationId: 'headBlob', summary: "A blob's size", responses: { 200: noBody('Content-Length, Docker-Content-Digest') } },
      delete: { operationId: 'deleteBlob', summary: 'Unlink a blob from the repository', responses: { 202: noBody('unlinked') } },
    },
  },
  uploads: {
    path: '{name}/blobs/uploads/',
    operations: {
      post: {
        operationId: 'startUpload',
        summary: 'Start an upload, upload a blob in one request (?digest=), or mount one (?mount=&from=)',
        query: postSchema.querystring.properties,
        requestBody: { ...blobBody('with ?digest=, the whole blob'), required: false },
        responses: { 201: noBody('blob stored or mounted (Location, Docker-Content-Digest)'), 202: noBody('upload session started (Location, Range, Docker-Upload-UUID)') },
      },
    },
  },
  upload: {
    path: '{name}/blobs/uploads/{uuid}',
    operations: {
      get: { operationId: 'getUpload', summary: "An upload's progress", responses: { 204: noBody('Range, Location, Docker-Upload-UUID') } },
      patch: { operationId: 'appendUpload', summary: 'Append a chunk', requestBody: { ...blobBody('the chunk'), required: true }, responses: { 202: noBody('chunk accepted (Location, Range)') } },
      put: {
        operationId: 'finishUpload',
        summary: 'Finish the upload (?digest=), with an optional last chunk',
        query: putSchema.querystring.properties,
        requestBody: { ...blobBody('the last chunk, if any'), required: false },
        responses: { 201: noBody('stored (Location, Docker-Content-Digest)') },
      },
      delete: { operationId: 'cancelUpload', summary: 'Cancel the upload', responses: { 204: noBody('cancelled') } },
    },
  },
  tags: {
    path: '{name}/tags/list',
    operations: {
      get: { operationId: 'listTags', summary: 'The tags of a repository, paginated', query: pageQuery, responses: { 200: { description: 'the tags', content: { 'application/json': { schema: tagListSchema } } } } },
    },
  },
  referrers: {
    path: '{name}/referrers/{digest}',
    operations: {
      get: {
        operationId: 'listReferrers',
        summary: 'The manifests whose subject is this digest (?artifactType= filters)',
        query: { ...pageQuery, artifactType: readSchema.querystring.properties.artifactType },
        responses: { 200: { description: 'the referrers index', content: { [OCI_INDEX]: { schema: referrersIndexSchema } } } },
      },
    },
  },
}
