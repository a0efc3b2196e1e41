// JSON schemas of the pack browser's routes: what each page accepts in its path and query.
// Unknown query parameters are dropped (Fastify's Ajv removes them), so a link with tracking
// parameters still opens; a bad value is a 400 page naming it. Pages answer HTML (rendered as
// strings, never serialized); the summaries are what /openapi.json says of each page.

import { LOGO_MAX_BYTES } from '../../browse/packs.js'
import { htmlPage, rawBody } from '../bodies.js'

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const
const cursor = text(300)
const pageSize = { type: 'integer', minimum: 1 } as const

const page = { 200: htmlPage } as const

export const packsSchema = {
  operationId: 'browsePacks',
  summary: 'The pack browser: every pack, searched in names, addon types, descriptions and READMEs, filtered by layer, cloud, addon type, group and warnings (HTML)',
  tags: ['pages'],
  response: page,
  querystring: {
    type: 'object',
    properties: {
      q: text(128),
      layer: text(32),
      cloud: text(32),
      // as long as the values the filters offer: a group is a tag's prefix (tags are at most 128)
      addonType: text(128),
      group: text(128),
      warnings: { type: 'boolean', description: 'only packs whose shown version was accepted with validation warnings' },
      sort: { type: 'string', enum: ['name', 'changed'] },
      n: pageSize,
      after: cursor,
      before: cursor,
    },
    additionalProperties: false,
  },
} as const

const packName = { type: 'string', minLength: 1, maxLength: 128 } as const

export const packSchema = {
  operationId: 'browsePack',
  summary: 'A pack\'s page, at its latest version (HTML)',
  tags: ['pages'],
  params: { type: 'object', properties: { name: packName }, required: ['name'] },
  response: page,
} as const

export const packVersionSchema = {
  operationId: 'browsePackVersion',
  summary: 'A pack\'s page at the tag or digest given (HTML)',
  tags: ['pages'],
  params: { type: 'object', properties: { name: packName, ref: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['name', 'ref'] },
  response: page,
} as const

const filePath = { type: 'string', title: 'path', maxLength: 4096, description: 'a file of the version\'s archive; a path through charts/NAME.tgz reaches the files inside that chart' } as const
const fileParams = { type: 'object', properties: { name: packName, ref: { type: 'string', minLength: 1, maxLength: 200 }, '*': filePath }, required: ['name', 'ref', '*'] } as const

export const packFileSchema = {
  operationId: 'browsePackFile',
  summary: 'One file of a pack version, highlighted, or the files of a chart inside it (HTML)',
  tags: ['pages'],
  params: fileParams,
  response: page,
} as const

export const packRawFileSchema = {
  operationId: 'downloadPackFile',
  summary: 'One file of a pack version as it is in the archive (up to limits.filesize)',
  tags: ['pages'],
  params: fileParams,
  response: { 200: rawBody('the file\'s bytes', ['application/octet-stream']) },
} as const

export const ociRepositoriesSchema = {
  operationId: 'browseOciRepositories',
  summary: 'The OCI repositories that are not packs (HTML)',
  tags: ['pages'],
  response: page,
  querystring: {
    type: 'object',
    properties: { q: text(255), n: pageSize, after: cursor, before: cursor },
    additionalProperties: false,
  },
} as const

export const ociRepositorySchema = {
  operationId: 'browseOciRepository',
  summary: 'One OCI repository with its tags (HTML)',
  tags: ['pages'],
  params: { type: 'object', properties: { '*': { type: 'string', title: 'repository', minLength: 1, maxLength: 255, description: 'the repository name' } }, required: ['*'] },
  querystring: { type: 'object', properties: { n: pageSize, last: text(200) }, additionalProperties: false },
  response: { ...page, 302: { type: 'null', description: 'a pack: to its page (Location)' } },
} as const

export const logoSchema = {
  operationId: 'browsePackLogo',
  summary: `A pack's logo as the browser shows it: at most ${LOGO_MAX_BYTES / 1024} KiB, larger ones are refused (the API serves them)`,
  tags: ['pages'],
  params: {
    type: 'object',
    properties: { name: packName, digest: { type: 'string', maxLength: 200, description: 'the logo\'s digest' } },
    required: ['name', 'digest'],
  },
  response: { 200: rawBody('the logo (cached for good: its URL holds its digest)', ['image/png', 'image/webp']) },
} as const

export const staticSchema = {
  operationId: 'getPageAsset',
  summary: 'The pages\' stylesheet, script and images (no credentials)',
  security: [],
  tags: ['pages'],
  params: { type: 'object', properties: { file: { type: 'string', maxLength: 100 } }, required: ['file'] },
  response: { 200: rawBody('the file (cached for good: its name holds its hash)', ['text/css', 'text/javascript', 'image/svg+xml']) },
} as const

export const packsRedirectSchema = {
  operationId: 'redirectToPacks',
  summary: 'Redirects to the pack browser',
  tags: ['pages'],
  response: { 302: { type: 'null', description: 'to the pack browser (Location)' } },
} as const

export const registrySchema = {
  operationId: 'browseRegistry',
  summary: 'The registry: version, storage, totals, latest pushes, Palette settings (HTML)',
  tags: ['pages'],
  response: page,
} as const

export const clientSchema = {
  operationId: 'browseClient',
  summary: 'Get the client: the commands that download the single-file packyard client from this registry (HTML)',
  tags: ['pages'],
  response: page,
} as const

/** Not in /openapi.json: the 404 page of any other path is no part of the API. */
export const noPageSchema = { hide: true, summary: 'Any other page of the browser: a 404 page (HTML)' } as const
