// JSON schemas of the pack browser's routes: what each page accepts in its path and query.
// Unknown query parameters are dropped (Fastify's Ajv removes them), so a link with tracking
// parameters still opens; a bad value is a 400 page naming it. Pages answer HTML, so there is no
// response schema; the summaries are what /openapi.json says of each page.

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const
const cursor = text(300)
const pageSize = { type: 'integer', minimum: 1 } as const

export const packsSchema = {
  summary: 'The pack browser: every pack, searchable and filtered by layer and cloud (HTML)',
  tags: ['pages'],
  querystring: {
    type: 'object',
    properties: {
      q: text(128),
      layer: text(32),
      cloud: text(32),
      sort: { type: 'string', enum: ['name', 'changed'] },
      n: pageSize,
      after: cursor,
      before: cursor,
    },
    additionalProperties: false,
  },
} as const

export const packSchema = {
  summary: 'A pack\'s page, at its latest version or at the tag or digest given (HTML)',
  tags: ['pages'],
  params: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, ref: { type: 'string', minLength: 1, maxLength: 200 } },
    required: ['name'],
  },
} as const

export const ociRepositoriesSchema = {
  summary: 'The OCI repositories that are not packs (HTML)',
  tags: ['pages'],
  querystring: {
    type: 'object',
    properties: { q: text(255), n: pageSize, after: cursor, before: cursor },
    additionalProperties: false,
  },
} as const

export const ociRepositorySchema = {
  summary: 'One OCI repository with its tags (HTML)',
  tags: ['pages'],
  params: { type: 'object', properties: { '*': { type: 'string', minLength: 1, maxLength: 255 } }, required: ['*'] },
  querystring: { type: 'object', properties: { n: pageSize, last: text(200) }, additionalProperties: false },
} as const

export const staticSchema = {
  summary: 'The pages\' stylesheet, script and images (no credentials)',
  security: [],
  tags: ['pages'],
  params: { type: 'object', properties: { file: { type: 'string', maxLength: 100 } }, required: ['file'] },
} as const

export const packsRedirectSchema = { summary: 'Redirects to the pack browser (HTML)', tags: ['pages'] } as const

export const registrySchema = { summary: 'The registry: version, storage, totals, latest pushes, Palette settings (HTML)', tags: ['pages'] } as const

export const clientSchema = { summary: 'Get the client: the commands that download the single-file packyard client from this registry (HTML)', tags: ['pages'] } as const

export const noPageSchema = { summary: 'Any other page of the browser: a 404 page (HTML)', tags: ['pages'] } as const
