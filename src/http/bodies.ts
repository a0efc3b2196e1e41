// Route-schema pieces for bodies that are not JSON: archives, blobs, manifests, pages. Each
// names its real media types, so /openapi.json says what a client receives or sends. Raw bytes
// have no JSON schema (OpenAPI 3.1 leaves a binary body's schema empty); Fastify compiles a
// serializer for each media type but never uses it, since these bodies leave as streams,
// buffers or strings.

/** The bytes as they are: no JSON structure. */
const RAW = { description: 'the bytes as stored' } as const

/** A response (or request body) of raw bytes in any of these media types. */
export function rawBody(description: string, mediaTypes: readonly string[]) {
  return { description, content: Object.fromEntries(mediaTypes.map((type) => [type, { schema: RAW }])) }
}

/** An HTML page of the pack browser. */
export const htmlPage = {
  description: 'an HTML page',
  content: { 'text/html': { schema: { type: 'string' } } },
} as const

/** A response without a body (its headers say it all). */
export function noBody(description: string) {
  return { type: 'null', description } as const
}
