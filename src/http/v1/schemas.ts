// JSON schemas of the /v1 pack routes: request validation and response serialization.
// The shapes are documented for users in docs/v1-api.md.

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

const packHeader = {
  name: { type: 'string' },
  displayName: { type: 'string' },
  layer: { type: 'string' },
  addonType: nullableString,
  addonSubType: nullableString,
  cloudTypes: { type: 'array', items: { type: 'string' } },
  logoUrl: nullableString,
  updatedAt: { type: 'string' },
} as const

const paging = {
  n: { type: 'integer', minimum: 1 },
  last: { type: 'string', maxLength: 200, default: '' },
} as const

export const listPacksSchema = {
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
    manifestDigest: { type: 'string' },
    contentDigest: { type: 'string' },
    status: { type: 'string', enum: ['created', 'updated', 'unchanged'] },
    previousDigest: { type: 'string' },
    parentTags: { type: 'array', items: { type: 'string' } },
    warnings,
  },
  required: ['name', 'version', 'group', 'tag', 'digest', 'manifestDigest', 'contentDigest', 'status', 'parentTags', 'warnings'],
} as const

export const pushSchema = {
  consumes: ['multipart/form-data'],
  response: { 200: publishResult, 201: publishResult, ...errorResponses },
} as const

const nameParams = { type: 'object', properties: { name: packName }, required: ['name'] } as const
const refParams = { type: 'object', properties: { name: packName, ref: tagOrDigest }, required: ['name', 'ref'] } as const

export const packDetailSchema = {
  params: nameParams,
  response: {
    200: {
      type: 'object',
      properties: {
        ...packHeader,
        tags: { type: 'array', items: tagView },
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
      required: ['name', 'tags', 'versions'],
    },
    ...errorResponses,
  },
} as const

const fileEntry = { type: 'object', properties: { digest: { type: 'string' }, size: { type: 'integer' } } } as const

export const versionDetailSchema = {
  params: refParams,
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
      required: ['name', 'version', 'digest', 'tags', 'history'],
    },
    ...errorResponses,
  },
} as const

export const archiveSchema = {
  params: refParams,
  response: { 200: { type: 'string', format: 'binary' }, ...errorResponses },
} as const

export const fileSchema = {
  params: { type: 'object', properties: { name: packName, ref: tagOrDigest, '*': { type: 'string', minLength: 1, maxLength: 256 } }, required: ['name', 'ref', '*'] },
  response: { 200: { type: 'string', format: 'binary' }, ...errorResponses },
} as const

const tagParams = { type: 'object', properties: { name: packName, tag: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['name', 'tag'] } as const

export const addTagSchema = {
  params: tagParams,
  body: { type: 'object', properties: { ref: tagOrDigest }, required: ['ref'], additionalProperties: false },
  response: {
    200: { ...tagView, properties: { ...tagView.properties, name: { type: 'string' }, status: { type: 'string' } } },
    201: { ...tagView, properties: { ...tagView.properties, name: { type: 'string' }, status: { type: 'string' } } },
    ...errorResponses,
  },
} as const

export const deleteTagSchema = {
  params: tagParams,
  response: {
    200: { type: 'object', properties: { name: { type: 'string' }, tag: { type: 'string' }, digest: { type: 'string' } }, required: ['name', 'tag', 'digest'] },
    ...errorResponses,
  },
} as const

export const deleteVersionSchema = {
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

