// JSON schemas of the pack browser's routes: what each page accepts in its path and query.
// Unknown query parameters are dropped (Fastify's Ajv removes them), so a link with tracking
// parameters still opens; a bad value is a 400 page naming it. Pages answer HTML, so there is no
// response schema.

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const
const cursor = text(300)
const pageSize = { type: 'integer', minimum: 1 } as const

export const packsSchema = {
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
  params: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, ref: { type: 'string', minLength: 1, maxLength: 200 } },
    required: ['name'],
  },
} as const

export const ociRepositoriesSchema = {
  querystring: {
    type: 'object',
    properties: { q: text(255), n: pageSize, after: cursor, before: cursor },
    additionalProperties: false,
  },
} as const

export const ociRepositorySchema = {
  params: { type: 'object', properties: { '*': { type: 'string', minLength: 1, maxLength: 255 } }, required: ['*'] },
  querystring: { type: 'object', properties: { n: pageSize, last: text(200) }, additionalProperties: false },
} as const

export const staticSchema = {
  params: { type: 'object', properties: { file: { type: 'string', maxLength: 100 } }, required: ['file'] },
} as const
