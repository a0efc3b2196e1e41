// JSON schemas of the /v1 pack routes: request validation and response serialization.
// The shapes are documented for users in docs/v1-api.md.

import type { PackHeader } from '../../packs/views.js'
import { noBody, rawBody } from '../bodies.js'
import { errorResponses } from '../errors.js'

const nullableString = { type: ['string', 'null'] } as const
const packName = { type: 'string', minLength: 1, maxLength: 128 } as const
const tagOrDigest = { type: 'string', minLength: 1, maxLength: 200 } as const
const anyObject = { type: 'object', additionalProperties: true } as const
/** What a pack was accepted with but the stock registry would also have served. */
const warnings = {
  type: 'array',
  items: {
    type: 'object',
    properties: { file: { type: 'string' }, field: nullableString, message: { type: 'string' } },
    required: ['file', 'field', 'message'],
  },
} as const

export const tagView = {
  type: 'object',
  properties: {
    tag: { type: 'string' },
    group: nullableString,
    label: { type: 'string' },
    kind: { type: 'string', enum: ['version', 'alias', 'parent', 'artifact'] },
    version: { type: 'string' },
    digest: { type: 'string' },
    manifestDigest: { type: 'string' },
    parentTags: { type: 'array', items: { type: 'string' } },
    updatedAt: { type: 'string' },
  },
  required: ['tag', 'group', 'label', 'kind', 'version', 'digest', 'manifestDigest', 'parentTags', 'updatedAt'],
} as const

/** The PackHeader (packs/views.ts) the list and a pack's detail answer: one property per field of it. */
const packHeader = {
  name: { type: 'string' },
  displayName: { type: 'string' },
  layer: { type: 'string' },
  addonType: nullableString,
  addonSubType: nullableString,
  cloudTypes: { type: 'array', items: { type: 'string' } },
  logoUrl: nullableString,
  updatedAt: { type: 'string' },
} as const satisfies Record<keyof PackHeader, unknown>

const paging = {
  n: { type: 'integer', minimum: 1 },
  last: { type: 'string', maxLength: 200, default: '' },
} as const

export const listPacksSchema = {
  operationId: 'listPacks',
  summary: 'Packs with every tag, filtered by name and layer, paginated',
  tags: ['packs'],
  querystring: {
    type: 'object',
    properties: { ...paging, name: { type: 'string', maxLength: 128 }, layer: { type: 'string', maxLength: 32 } },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        packs: {
          type: 'array',
          items: { type: 'object', properties: { ...packHeader, tags: { type: 'array', items: tagView } }, required: ['name', 'displayName', 'layer', 'tags'] },
        },
      },
      required: ['packs'],
    },
    ...errorResponses,
  },
} as const

const publishResult = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    group: nullableString,
    tag: { type: 'string' },
    digest: { type: 'string' },
    size: { type: 'integer', description: 'bytes of the archive' },
    manifestDigest: { type: 'string' },
    contentDigest: { type: 'string' },
    status: { type: 'string', enum: ['created', 'updated', 'unchanged'] },
    previousDigest: { type: 'string' },
    parentTags: { type: 'array', items: { type: 'string' } },
    parentTagsMoved: {
      type: 'array',
      description: 'the parent tags this push created or moved, with the version tags they followed (null: new) and now follow',
      items: { type: 'object', properties: { tag: { type: 'string' }, from: nullableString, to: { type: 'string' } }, required: ['tag', 'from', 'to'] },
    },
    warnings,
  },
  required: ['name', 'version', 'group', 'tag', 'digest', 'manifestDigest', 'contentDigest', 'status', 'parentTags', 'parentTagsMoved', 'warnings'],
} as const

export const pushSchema = {
  operationId: 'pushPack',
  summary: 'Push a pack: a multipart form with the archive (writers only)',
  description:
    'multipart/form-data: the file part `archive` (the pack .tar.gz) and the text fields `force`, `message` (required with force), `skipDigestCheck` and `strict` (true or false), best sent before the file. 201 created, 200 updated or unchanged.',
  tags: ['packs'],
  // For the description only: the handler reads the form as it streams (multipart.ts).
  requestBody: {
    content: {
      'multipart/form-data': {
        schema: {
          type: 'object',
          properties: {
            archive: { type: 'string', contentMediaType: 'application/gzip', description: 'the pack .tar.gz' },
            force: { type: 'boolean', description: 'replace an existing tag' },
            message: { type: 'string', description: 'why (required with force); kept in the history' },
            skipDigestCheck: { type: 'boolean', description: 'replace the tag even when the content is the same' },
            strict: { type: 'boolean', description: 'refuse the pack if it has warnings' },
          },
          required: ['archive'],
        },
      },
    },
  },
  response: { 200: publishResult, 201: publishResult, ...errorResponses },
} as const

const nameParams = { type: 'object', properties: { name: packName }, required: ['name'] } as const
const refParams = { type: 'object', properties: { name: packName, ref: tagOrDigest }, required: ['name', 'ref'] } as const

/** The tags of a detail route come a page at a time: n and last page them, a Link names the next page. */
const tagPaging = { type: 'object', properties: paging, additionalProperties: false } as const
const tagCount = { type: 'integer', description: 'how many tags there are on every page (n and last page them; a Link header names the next page)' } as const

export const packDetailSchema = {
  summary: 'One pack in Palette\'s shape, with every version and a page of its tags',
  tags: ['packs'],
  params: nameParams,
  querystring: tagPaging,
  response: {
    200: {
      type: 'object',
      properties: {
        ...packHeader,
        tags: { type: 'array', items: tagView },
        tagCount,
        versions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              group: nullableString,
              digest: { type: 'string' },
              manifestDigest: { type: 'string' },
              contentDigest: { type: 'string' },
              tags: { type: 'array', items: { type: 'string' } },
              pushedAt: { type: 'string' },
              pushedBy: { type: 'string' },
              packJson: anyObject,
              values: { type: 'string' },
              readme: nullableString,
              presets: nullableString,
              schema: nullableString,
            },
          },
        },
      },
      required: ['name', 'tags', 'tagCount', 'versions'],
    },
    ...errorResponses,
  },
  operationId: 'getPack',
} as const

const fileEntry = { type: 'object', properties: { digest: { type: 'string' }, size: { type: 'integer' } } } as const

export const versionDetailSchema = {
  summary: 'One version (by tag or digest) with its files, a page of its tags, and its history',
  tags: ['packs'],
  params: refParams,
  querystring: tagPaging,
  response: {
    200: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        version: { type: 'string' },
        group: nullableString,
        digest: { type: 'string' },
        manifestDigest: { type: 'string' },
        contentDigest: { type: 'string' },
        size: { type: 'integer' },
        unpackedSize: { type: 'integer' },
        packJson: anyObject,
        files: { type: 'object', additionalProperties: fileEntry },
        tags: { type: 'array', items: tagView },
        tagCount,
        pushedAt: { type: 'string' },
        pushedBy: { type: 'string' },
        message: nullableString,
        warnings,
        history: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              at: { type: 'string' },
              actor: { type: 'string' },
              action: { type: 'string' },
              tag: nullableString,
              oldDigest: nullableString,
              newDigest: nullableString,
              forced: { type: 'boolean' },
              message: nullableString,
            },
          },
        },
      },
      required: ['name', 'version', 'digest', 'tags', 'tagCount', 'history'],
    },
    ...errorResponses,
  },
  operationId: 'getPackVersion',
} as const

export const archiveSchema = {
  operationId: 'getPackArchive',
  summary: 'The archive of a version (Range and If-None-Match supported)',
  tags: ['packs'],
  params: refParams,
  response: {
    200: rawBody('the archive (ETag, Docker-Content-Digest)', ['application/gzip']),
    206: rawBody('the requested range', ['application/gzip']),
    304: noBody('not modified (If-None-Match)'),
    ...errorResponses,
  },
} as const

/** The media types pack files are served as (packs.ts): the known files, anything else as bytes. */
export const FILE_TYPES: Record<string, string> = {
  'pack.json': 'application/json',
  'values.yaml': 'application/yaml',
  'presets.yaml': 'application/yaml',
  'schema.yaml': 'application/yaml',
  'README.md': 'text/markdown; charset=utf-8',
  'logo.png': 'image/png',
  'logo.webp': 'image/webp',
}
const FILE_MEDIA_TYPES = [...new Set([...Object.values(FILE_TYPES).map((type) => type.split(';')[0] as string), 'application/octet-stream'])]

export const fileSchema = {
  operationId: 'getPackFile',
  summary: 'One file of a version: pack.json, values.yaml, README.md, logo.png, logo.webp, presets.yaml, schema.yaml',
  tags: ['packs'],
  params: {
    type: 'object',
    properties: { name: packName, ref: tagOrDigest, '*': { type: 'string', title: 'path', minLength: 1, maxLength: 256, description: "the file's path in the pack" } },
    required: ['name', 'ref', '*'],
  },
  response: {
    200: rawBody('the file', FILE_MEDIA_TYPES),
    206: rawBody('the requested range', FILE_MEDIA_TYPES),
    304: noBody('not modified (If-None-Match)'),
    ...errorResponses,
  },
} as const

const tagParams = { type: 'object', properties: { name: packName, tag: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['name', 'tag'] } as const

export const listTagsSchema = {
  operationId: 'listPackTags',
  summary: 'The tags of a pack (every kind), a page at a time, by name',
  tags: ['packs'],
  params: nameParams,
  querystring: tagPaging,
  response: {
    200: {
      type: 'object',
      properties: { name: { type: 'string' }, tags: { type: 'array', items: tagView }, tagCount },
      required: ['name', 'tags', 'tagCount'],
    },
    ...errorResponses,
  },
} as const

export const addTagSchema = {
  operationId: 'addPackTag',
  summary: 'Add a tag to a version (writers only)',
  tags: ['packs'],
  params: tagParams,
  body: { type: 'object', properties: { ref: tagOrDigest }, required: ['ref'], additionalProperties: false },
  response: {
    200: { ...tagView, properties: { ...tagView.properties, name: { type: 'string' }, status: { type: 'string' } } },
    201: { ...tagView, properties: { ...tagView.properties, name: { type: 'string' }, status: { type: 'string' } } },
    ...errorResponses,
  },
} as const

export const deleteTagSchema = {
  operationId: 'deletePackTag',
  summary: 'Delete a tag; parent tags are refused (writers only)',
  tags: ['packs'],
  params: tagParams,
  response: {
    200: { type: 'object', properties: { name: { type: 'string' }, tag: { type: 'string' }, digest: { type: 'string' } }, required: ['name', 'tag', 'digest'] },
    ...errorResponses,
  },
} as const

export const deleteVersionSchema = {
  operationId: 'deletePackVersion',
  summary: 'Delete a version and every tag on it (writers only)',
  tags: ['packs'],
  params: refParams,
  response: {
    200: {
      type: 'object',
      properties: { name: { type: 'string' }, version: { type: 'string' }, digest: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
      required: ['name', 'version', 'digest', 'tags'],
    },
    ...errorResponses,
  },
} as const

const eventView = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    action: { type: 'string', enum: ['create', 'update', 'tag', 'untag', 'delete', 'blob.delete', 'gc', 'lockout', 'user.add', 'user.delete'] },
    user: { type: 'string' },
    repository: nullableString,
    tag: nullableString,
    oldDigest: nullableString,
    newDigest: nullableString,
    forced: { type: 'boolean' },
    message: nullableString,
    detail: { type: ['object', 'null'], additionalProperties: true },
    replica: { type: ['string', 'null'], description: 'replica.id of the server that handled the change; null for operator commands (packyard garbage-collect, user add...)' },
  },
  required: ['id', 'at', 'action', 'user', 'repository', 'tag', 'oldDigest', 'newDigest', 'forced', 'message', 'detail', 'replica'],
} as const

export const eventsSchema = {
  operationId: 'listEvents',
  summary: 'The audit trail: every push, tag change, delete, garbage collection, login lockout and user change, oldest first (writers only)',
  tags: ['operations'],
  querystring: {
    type: 'object',
    properties: {
      since: { type: 'string', format: 'date-time', description: 'only events at or after this time (RFC 3339, e.g. 2026-11-23T06:00:00Z)' },
      pack: { type: 'string', minLength: 1, maxLength: 256, description: 'only events of this pack (or OCI repository)' },
      user: { type: 'string', minLength: 1, maxLength: 256, description: 'only events by this user (for a lockout: the user name tried)' },
      n: paging.n,
      last: { type: 'string', pattern: '^[0-9]{0,15}$', description: 'the id of the last event of the previous page' },
    },
    additionalProperties: false,
  },
  response: {
    200: { type: 'object', properties: { events: { type: 'array', items: eventView } }, required: ['events'] },
    ...errorResponses,
  },
} as const

const endpointStatus = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    url: { type: 'string', description: "the receiver's origin (scheme, host, port): its path and headers may hold a secret and are never shown" },
    format: { type: 'string', enum: ['distribution', 'cloudevents'] },
    state: { type: 'string', enum: ['delivering', 'idle', 'retrying', 'failing', 'disabled', 'standby'], description: 'failing: threshold attempts in a row failed; standby: another replica delivers this endpoint' },
    pending: { type: 'integer', description: 'events in the outbox not yet delivered' },
    delivered: { type: 'integer', description: 'events delivered since the registry started' },
    failedAttempts: { type: 'integer', description: 'failed deliveries since the registry started' },
    consecutiveFailures: { type: 'integer' },
    dropped: { type: 'integer', description: 'events dropped past notifications.retention since the registry started' },
    lastError: { type: ['string', 'null'] },
    lastDeliveryAt: { type: ['string', 'null'], format: 'date-time' },
    nextAttemptAt: { type: ['string', 'null'], format: 'date-time', description: 'when a failing endpoint is tried again' },
  },
  required: ['name', 'url', 'format', 'state', 'pending', 'delivered', 'failedAttempts', 'consecutiveFailures', 'dropped', 'lastError', 'lastDeliveryAt', 'nextAttemptAt'],
  additionalProperties: false,
} as const

export const notificationsSchema = {
  operationId: 'listNotificationEndpoints',
  summary: "Each notification endpoint's delivery state (writers only)",
  tags: ['operations'],
  response: {
    200: { type: 'object', properties: { endpoints: { type: 'array', items: endpointStatus } }, required: ['endpoints'], additionalProperties: false },
    ...errorResponses,
  },
} as const

export const notificationRetrySchema = {
  operationId: 'retryNotificationEndpoint',
  summary: 'Send what is pending for an endpoint now, out of its backoff (writers only)',
  tags: ['operations'],
  params: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['name'] },
  response: {
    202: { type: 'object', properties: { endpoint: endpointStatus }, required: ['endpoint'], additionalProperties: false },
    ...errorResponses,
  },
} as const
