// GET /openapi.json: every route the app registers (seen through an onRoute hook from the very
// first) appears in the document with each of its methods, whatever routes are added later;
// the distribution endpoints behind the wildcard routes are listed as clients call them.

import t from 'tap'
import type { RouteOptions } from 'fastify'
import { buildApp } from '../../src/app.js'
import { ADMIN, testConfig } from '../helpers.js'

/** `/v1/_packs/:name/files/*` as OpenAPI writes it: `/v1/_packs/{name}/files/{*}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{*}')
}

interface Operation {
  summary?: string
  tags?: string[]
  security?: unknown[]
}

t.test('every registered route and method is in /openapi.json, with a summary', async (t) => {
  const routes: Array<{ method: string; url: string }> = []
  const collect = (route: RouteOptions) => {
    for (const method of [route.method].flat()) routes.push({ method: method.toLowerCase(), url: route.url })
  }
  const app = await buildApp(testConfig(t), { onRoute: collect })
  t.teardown(() => app.close())

  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200, 'no credentials needed')
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } }
  t.equal(doc.openapi, '3.1.0')
  t.ok(doc.components.schemas.ErrorEnvelope, 'the error envelope is a named schema')

  t.ok(routes.length > 30, `${routes.length} routes seen`)
  for (const path of ['/health', '/metrics', '/openapi.json', '/v1/_packs', '/v1/_events', '/v1/{*}', '/v2/{*}']) {
    t.ok(routes.some((r) => openApiPath(r.url) === path), `${path} is registered`)
  }
  // A plugin's root (`/v1/`) is served with and without the slash; the document names it once.
  const documented = (r: { method: string; url: string }) => [openApiPath(r.url), `${openApiPath(r.url)}/`].some((path) => doc.paths[path]?.[r.method] !== undefined)
  const missing = routes.filter((r) => !documented(r)).map((r) => `${r.method.toUpperCase()} ${r.url}`)
  t.same(missing, [], 'every route is documented')
  const unsummarised = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => !op.summary).map(([m]) => `${m} ${path}`))
  t.same(unsummarised, [], 'every operation says what it does')

  t.same(doc.paths['/health']?.get?.security, [], '/health needs no credentials')
  t.same(doc.paths['/v1/_packs']?.post?.tags, ['packs'])
  t.same(doc.paths['/v2/{*}']?.put?.tags, ['distribution'])
  t.ok(doc.paths['/v2/{*}']?.head, 'HEAD routes are listed')
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
