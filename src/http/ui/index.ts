// The pack browser: server-rendered HTML pages under ui.path (packs, one pack, any file of a
// pack version with its download, other OCI content, the registry), behind the same Basic auth as the API, so the browser shows its own
// login prompt and read-only users browse what they can pull. Routes only parse the request,
// ask a browsing service (browse/packs.ts, browse/oci.ts, browse/overview.ts) and render
// an Eta template through @fastify/view; author-supplied text is made safe in render.ts.
//
// Every answer here carries a strict Content-Security-Policy of its own (scripts, styles and
// images from the registry only, nothing inline) in place of the configured one: one policy,
// stricter than Spectro's default, and any stricter one would break the pages.
// Errors on these routes are rendered as HTML pages by a handler scoped to this plugin, from
// the same description the JSON handler uses (describeError), 401 challenge included.

import fastifyCompress from '@fastify/compress'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import { constants } from 'node:zlib'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RegistryError } from '../../errors.js'
import { type ClientDownloads, NOT_BUILT } from '../../client-files.js'
import type { RegistryOverview } from '../../browse/overview.js'
import type { OciBrowser } from '../../browse/oci.js'
import type { PageRequest, TwoWayPageRequest } from '../../pages.js'
import type { PackBrowser, PackFilePage, PackListRequest, PackPage } from '../../browse/packs.js'
import { crumbsOf } from '../../packs/file-paths.js'
import { CLOUD_TYPES, LAYERS } from '../../packs/pack-json.js'
import { buildCommit, VERSION } from '../../version.js'
import { IMMUTABLE, sendBlob } from '../blob-response.js'
import { describeError } from '../errors.js'
import { TEMPLATES_DIR, UiAssets } from './assets.js'
import { escapeHtml, format, languageOf, renderHighlighted, renderMarkdown } from './render.js'
import * as S from './schemas.js'
import { artifactCommands, clientPlatforms, firstPushCommands, paletteSettings, pullCommands, siteOf } from './site.js'

export interface UiOptions {
  packs: PackBrowser
  oci: OciBrowser
  overview: RegistryOverview
  /** the single-file client's files, for the "Get the client" page */
  client: ClientDownloads
  ociNamespace: string
  /** whether the registry asks for credentials (the curl command then names the user) */
  authenticated: boolean
  /** '' when the browser is the registry's home page, else ui.path (`/ui`) */
  base: string
}

/**
 * Nothing inline, nothing from elsewhere: the pages' script, stylesheet and images (logos
 * included) come from the registry, and no other site may frame or receive a form from them.
 */
export const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type Section = 'packs' | 'oci' | 'registry' | 'client' | null

/** A path inside a pack made safe for a URL, segment by segment. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

/** A download's Content-Disposition: an ASCII file name, and the real one for the browsers that read it. */
function attachment(fileName: string): string {
  return `attachment; filename="${fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(fileName)}`
}

/** Builds `path?query`, leaving out empty values. */
function href(path: string, query: Record<string, string | number | null | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  const search = params.toString()
  return search === '' ? path : `${path}?${search}`
}

export async function uiPlugin(app: FastifyInstance, opts: UiOptions): Promise<void> {
  const { packs, oci, overview, client, ociNamespace, authenticated, base } = opts
  const assets = new UiAssets()
  const asset = (name: string) => `${base}/_static/${assets.servedName(name)}`
  const common = { base, version: VERSION, commit: buildCommit(), format, href, css: asset('app.css'), script: asset('app.js'), icon: asset('icon.svg') }

  await app.register(fastifyCompress, { encodings: ['br', 'gzip'], threshold: 1024, brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } } })
  await app.register(fastifyView, { engine: { eta: new Eta({ views: TEMPLATES_DIR, cache: true }) }, templates: TEMPLATES_DIR, production: true })

  async function render(request: FastifyRequest, reply: FastifyReply, template: string, section: Section, title: string, data: object) {
    const html = await reply.viewAsync(template, { ...common, user: authenticated ? (request.identity?.user ?? null) : null, section, title, ...data })
    return reply.header('cache-control', 'private, no-cache').type('text/html; charset=utf-8').send(html)
  }

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', UI_CSP)
    return payload
  })

  app.setErrorHandler(async (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const described = describeError(err, request)
    for (const [name, value] of Object.entries(described.headers)) reply.header(name, value)
    reply.code(described.status)
    return render(request, reply, 'error', null, described.status === 401 ? 'Sign in' : `Error ${described.status}`, { error: described })
  })

  // Static files need no credentials: they are the same in every registry, and the 401 page uses them.
  app.get<{ Params: { file: string } }>('/_static/:file', { schema: S.staticSchema, config: { logAtDebug: true } }, async (request, reply) => {
    const found = assets.find(request.params.file)
    if (!found) throw new RegistryError('NOT_FOUND', `no static file ${request.params.file} (it may be from an older release; reload the page)`)
    reply.header('cache-control', IMMUTABLE).header('etag', found.etag).type(found.type)
    if (request.headers['if-none-match'] === found.etag) return reply.code(304).send()
    return reply.send(found.body)
  })

  await app.register(async (pages) => {
    pages.addHook('onRequest', app.authenticate)

    pages.get<{ Querystring: PackListRequest }>('/', { schema: S.packsSchema }, async (request, reply) => {
      const query = request.query
      const page = await packs.listPacks(query)
      const { q, layer, cloud, addonType, group, warnings } = query
      const filters = { q, layer, cloud, addonType, group, warnings: warnings ? 'true' : undefined, sort: page.sort === 'name' ? undefined : page.sort, n: query.n }
      const layers = [...new Set([...LAYERS, ...page.layers])]
      const filtered = Boolean(q || layer || cloud || addonType || group || warnings)
      return render(request, reply, 'packs', 'packs', 'Packs', { page, filters, layers, clouds: CLOUD_TYPES, filtered, firstPush: firstPushCommands(siteOf(request)) })
    })

    pages.get<{ Params: { name: string; digest: string } }>('/_logo/:name/:digest', { schema: S.logoSchema }, async (request, reply) => {
      const logo = await packs.logo(request.params.name, request.params.digest)
      return sendBlob(request, reply, { ...logo, contentType: logo.type, cacheControl: 'private, max-age=31536000, immutable' })
    })

    pages.get('/packs', { schema: S.packsRedirectSchema }, async (_request, reply) => reply.redirect(`${base}/`))

    const packPage = async (request: FastifyRequest<{ Params: { name: string; ref?: string } }>, reply: FastifyReply) => {
      const { name, ref } = request.params
      const page = await packs.pack(name, ref ?? null)
      return render(request, reply, 'pack', 'packs', page.pack.displayName, packView(page, request))
    }
    pages.get<{ Params: { name: string } }>('/packs/:name', { schema: S.packSchema }, packPage)
    pages.get<{ Params: { name: string; ref: string } }>('/packs/:name/:ref', { schema: S.packVersionSchema }, packPage)

    type FileRequest = FastifyRequest<{ Params: { name: string; ref: string; '*': string } }>
    pages.get('/packs/:name/:ref/files/*', { schema: S.packFileSchema }, async (request: FileRequest, reply) => {
      const { name, ref } = request.params
      const file = await packs.file(name, ref, request.params['*'])
      return render(request, reply, 'file', 'packs', `${file.fileName} · ${name} ${file.version}`, fileView(file))
    })
    pages.get('/packs/:name/:ref/raw/*', { schema: S.packRawFileSchema }, async (request: FileRequest, reply) => {
      const { name, ref } = request.params
      const raw = await packs.rawFile(name, ref, request.params['*'])
      reply.header('cache-control', 'private, no-cache').header('content-disposition', attachment(raw.fileName)).header('x-content-type-options', 'nosniff')
      return reply.type('application/octet-stream').send(raw.data)
    })

    pages.get<{ Querystring: TwoWayPageRequest & { q?: string } }>('/oci', { schema: S.ociRepositoriesSchema }, async (request, reply) => {
      const page = await oci.repositories(request.query)
      return render(request, reply, 'oci', 'oci', 'Other OCI content', { page, q: request.query.q ?? '', n: request.query.n, namespace: ociNamespace })
    })

    pages.get<{ Params: { '*': string }; Querystring: PageRequest }>('/oci/*', { schema: S.ociRepositorySchema }, async (request, reply) => {
      const name = request.params['*']
      const page = await oci.repository(name, request.query)
      if (page.kind === 'pack') return reply.redirect(`${base}/packs/${page.name}`)
      return render(request, reply, 'oci-repository', 'oci', name, { ...page, site: siteOf(request), n: request.query.n })
    })

    pages.get('/registry', { schema: S.registrySchema }, async (request, reply) => {
      const summary = await overview.summary()
      return render(request, reply, 'registry', 'registry', 'Registry', { summary, palette: paletteSettings(siteOf(request), ociNamespace) })
    })

    pages.get('/client', { schema: S.clientSchema }, async (request, reply) => {
      const manifest = await client.manifest()
      const server = { version: VERSION, commit: buildCommit() }
      const stale = manifest !== null && (manifest.version !== server.version || manifest.commit !== server.commit)
      const platforms = clientPlatforms(siteOf(request), manifest, request.headers['user-agent'])
      return render(request, reply, 'client', 'client', 'Get the client', { manifest, server, stale, platforms, notBuilt: NOT_BUILT })
    })

    // Anything else under the browser's own paths is a page that does not exist (HTML, not JSON).
    pages.get(base === '' ? '/packs/*' : '/*', { schema: S.noPageSchema }, async (request) => {
      throw new RegistryError('NOT_FOUND', `there is no page at ${request.url.split('?')[0]}`)
    })
  })

  /** Links to a version's file pages and downloads. */
  function fileLinks(name: string, ref: string) {
    return {
      fileHref: (path: string) => `${base}/packs/${name}/${ref}/files/${encodePath(path)}`,
      rawHref: (path: string) => `${base}/packs/${name}/${ref}/raw/${encodePath(path)}`,
    }
  }

  function fileView(file: PackFilePage) {
    const { content } = file
    const language = languageOf(file.fileName)
    // The archive's digest and the path name the content for the highlighting cache.
    const html = content.kind !== 'text' ? null : language ? renderHighlighted(content.text, language, `${file.archiveDigest}/${file.path}`) : escapeHtml(content.text)
    return { file, html, language, crumbs: crumbsOf(file.path), ...fileLinks(file.name, file.ref) }
  }

  function packView(page: PackPage, request: FastifyRequest) {
    const site = siteOf(request)
    const palette = paletteSettings(site, ociNamespace)
    const name = page.pack.name
    const { selected } = page
    if (selected.kind === 'artifact') {
      const { artifact } = selected
      return { page, palette, history: [...selected.history].reverse(), commands: artifactCommands(site, ociNamespace, name, artifact.tags[0] ?? null, artifact.digest) }
    }
    const { detail, files } = selected
    const entry = page.groups.flatMap((g) => g.versions).find((v) => v.selected)
    const packJsonDigest = detail.files['pack.json']?.digest ?? detail.digest
    return {
      page,
      palette,
      detail,
      ...fileLinks(name, entry?.ref ?? detail.digest),
      history: [...detail.history].reverse(),
      html: {
        readme: files.readme && renderMarkdown(files.readme.text, files.readme.digest),
        values: files.values && renderHighlighted(files.values.text, 'yaml', files.values.digest),
        presets: files.presets && renderHighlighted(files.presets.text, 'yaml', files.presets.digest),
        schema: files.schema && renderHighlighted(files.schema.text, 'yaml', files.schema.digest),
        packJson: renderHighlighted(JSON.stringify(detail.packJson, null, 2), 'json', packJsonDigest),
      },
      commands: pullCommands(site, ociNamespace, {
        name,
        tag: entry?.ref ?? detail.digest,
        archiveDigest: detail.digest,
        manifestDigest: detail.manifestDigest,
        user: authenticated ? (request.identity?.user ?? null) : null,
      }),
    }
  }
}
