// GET /openapi.json: a valid OpenAPI 3.1 document (checked by @readme/openapi-parser, which
// validates against the specification's schema and its rules: unique operation ids, path
// parameters that match their templates...). Every route the app registers (seen through an
// onRoute hook from the very first) appears in it with each of its methods, whatever routes are
// added later; the distribution endpoints behind the wildcard routes are listed as clients call
// them; bodies carry their real media types. GET /docs serves it as a page.

import t from 'tap'
import { validate } from '@readme/openapi-parser'
import type { RouteOptions } from 'fastify'
import { buildApp } from '../../src/app.js'
import { ADMIN, testConfig } from '../helpers.js'

/** `/v1/_packs/:name/:ref/files/*` as OpenAPI writes it, the wildcard named: `/v1/_packs/{name}/{ref}/files/{path}`. */
function openApiPath(route: RouteOptions): string {
  const wildcard = (route.schema?.params as { properties?: Record<string, { title?: string }> } | undefined)?.properties?.['*']?.title
  return route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, `{${wildcard}}`)
}

interface Operation {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: unknown[]
  parameters?: Array<{ name: string; in: string }>
  requestBody?: { content: Record<string, unknown> }
  responses?: Record<string, { content?: Record<string, unknown> }>
}

t.test('every registered route and method is in /openapi.json, with a summary', async (t) => {
  const routes: Array<{ method: string; url: string; path: string }> = []
  const collect = (route: RouteOptions) => {
    // Hidden: the reference page's own files and the browser's 404 page.
    if ((route.schema as { hide?: boolean } | undefined)?.hide) return
    for (const method of [route.method].flat()) routes.push({ method: method.toLowerCase(), url: route.url, path: openApiPath(route) })
  }
  const app = await buildApp(testConfig(t), { onRoute: collect })
  t.teardown(() => app.close())

  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200, 'no credentials needed')
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } }
  t.equal(doc.openapi, '3.1.0')
  t.ok(doc.components.schemas.ErrorEnvelope, 'the error envelope is a named schema')
  const validation = await validate(structuredClone(doc) as Parameters<typeof validate>[0])
  t.same(validation.valid ? [] : validation.errors, [], 'a valid OpenAPI 3.1 document')

  t.ok(routes.length > 30, `${routes.length} routes seen`)
  for (const path of ['/health', '/metrics', '/openapi.json', '/v1/_packs', '/v1/_events', '/v1/{path}', '/v2/{path}']) {
    t.ok(routes.some((r) => r.path === path), `${path} is registered`)
  }
  // A plugin's root (`/v1/`) is served with and without the slash; the document names it once.
  const documented = (r: { method: string; path: string }) => [r.path, `${r.path}/`].some((path) => doc.paths[path]?.[r.method] !== undefined)
  const missing = routes.filter((r) => !documented(r)).map((r) => `${r.method.toUpperCase()} ${r.url}`)
  t.same(missing, [], 'every route is documented')
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ what: `${method} ${path}`, path, op })))
  t.same(operations.filter(({ op }) => !op.summary).map(({ what }) => what), [], 'every operation says what it does')
  t.same(operations.filter(({ op }) => !op.operationId).map(({ what }) => what), [], 'every operation has an id')
  const ids = operations.map(({ op }) => op.operationId)
  t.equal(new Set(ids).size, ids.length, 'operation ids are unique')
  t.same(operations.filter(({ path, op }) => path.includes('{*}') || op.parameters?.some((p) => p.name === '*')).map(({ what }) => what), [], 'wildcards have real names')
  t.equal(doc.paths['/v1/_packs/{name}']?.get?.operationId, 'getPack')
  t.equal(doc.paths['/v1/_packs/{name}']?.head?.operationId, 'headPack')
  t.equal(doc.paths['/v2/{name}/manifests/{reference}']?.get?.operationId, 'v2GetManifest')
  t.equal(doc.paths['/v1/{name}/manifests/{reference}']?.get?.operationId, 'v1GetManifest')
  t.ok(doc.paths['/v1/_packs/{name}/{ref}/files/{path}']?.get?.parameters?.some((p) => p.name === 'path' && p.in === 'path'), 'a file by its path')

  // Bodies in their real media types: archives and blobs are bytes, pages HTML, manifests their own types.
  const mediaTypes = (op: Operation | undefined, status: string) => Object.keys(op?.responses?.[status]?.content ?? {})
  t.same(mediaTypes(doc.paths['/v1/_packs/{name}/{ref}/archive']?.get, '200'), ['application/gzip'])
  t.same(mediaTypes(doc.paths['/v2/{name}/blobs/{digest}']?.get, '200'), ['application/octet-stream'])
  t.ok(mediaTypes(doc.paths['/v2/{name}/manifests/{reference}']?.get, '200').includes('application/vnd.oci.image.manifest.v1+json'))
  t.same(mediaTypes(doc.paths['/v2/{name}/referrers/{digest}']?.get, '200'), ['application/vnd.oci.image.index.v1+json'])
  t.same(mediaTypes(doc.paths['/']?.get, '200'), ['text/html'])
  t.ok(mediaTypes(doc.paths['/v1/_packs/{name}/{ref}/files/{path}']?.get, '200').includes('image/png'))
  t.same(Object.keys(doc.paths['/v1/_packs']?.post?.requestBody?.content ?? {}), ['multipart/form-data'], 'the push form')
  t.same(Object.keys(doc.paths['/v2/{name}/blobs/uploads/{uuid}']?.patch?.requestBody?.content ?? {}), ['application/octet-stream'], 'a chunk')
  const binary = operations.filter(({ op }) => Object.values(op.responses ?? {}).some((r) => Object.keys(r.content ?? {}).includes('application/json') && JSON.stringify(r.content).includes('"binary"')))
  t.same(binary.map(({ what }) => what), [], 'no bytes described as a JSON string')

  t.same(doc.paths['/health']?.get?.security, [], '/health needs no credentials')
  t.same(doc.paths['/v1/_packs']?.post?.tags, ['packs'])
  t.same(doc.paths['/v2/{path}']?.put?.tags, ['distribution'])
  t.ok(doc.paths['/v2/{path}']?.head, 'HEAD routes are listed')
  // The endpoints behind the wildcards, on both roots, as clients call them.
  for (const root of ['/v1', '/v2']) {
    t.same(Object.keys(doc.paths[`${root}/{name}/manifests/{reference}`] ?? {}).sort(), ['delete', 'get', 'head', 'put'], `${root} manifests`)
    t.same(Object.keys(doc.paths[`${root}/{name}/blobs/uploads/{uuid}`] ?? {}).sort(), ['delete', 'get', 'patch', 'put'], `${root} an upload`)
    t.ok(doc.paths[`${root}/{name}/blobs/uploads/`]?.post, `${root} starting an upload`)
    t.ok(doc.paths[`${root}/{name}/tags/list`]?.get, `${root} tags/list`)
    t.ok(doc.paths[`${root}/{name}/referrers/{digest}`]?.get, `${root} referrers`)
  }
  t.same(doc.paths['/v2/{name}/blobs/{digest}']?.get?.tags, ['distribution'])

  const again = await app.inject({ url: '/openapi.json', headers: { authorization: ADMIN } })
  t.equal(again.body, res.body, 'the same document for everyone')
})

t.test('GET /docs is the reference page, public, with its own single CSP', async (t) => {
  const app = await buildApp(testConfig(t))
  t.teardown(() => app.close())
  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200, 'no credentials needed')
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /swagger-ui-bundle\.js/, 'Swagger UI, from the registry itself')
  t.notMatch(page.body, /https?:\/\//, 'nothing from another site')
  t.type(page.headers['content-security-policy'], 'string', 'one Content-Security-Policy header')
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  const script = await app.inject({ url: '/docs/static/swagger-ui-bundle.js' })
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], /javascript/)
  const json = await app.inject({ url: '/docs/json' })
  t.same(json.json(), (await app.inject({ url: '/openapi.json' })).json(), 'the page reads the same description')
})
