// The /v1 pack routes (`/v1/_catalog`, `/v1/_packs...`) and the distribution-shaped read view
// (`/v1/{name}/tags/list`, `/manifests/{ref}`, `/blobs/{digest}`). Routes parse HTTP and shape
// JSON; every rule and every write is in packs/service.ts.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { RegistryError } from '../../errors.js'
import type { PackVersionRow, TagRow } from '../../meta/packs.js'
import { type ParentTag, parentTagsOf } from '../../packs/parent-tags.js'
import { archiveFileName } from '../../packs/oras-manifest.js'
import { PackService, type PublishOptions } from '../../packs/service.js'
import { sendBlob, servableType } from '../blob-response.js'
import { readForm } from '../multipart.js'
import { pageSize, setNextLink } from '../pagination.js'
import * as S from './schemas.js'

const FILE_TYPES: Record<string, string> = {
  'pack.json': 'application/json',
  'values.yaml': 'application/yaml',
  'presets.yaml': 'application/yaml',
  'schema.yaml': 'application/yaml',
  'README.md': 'text/markdown; charset=utf-8',
  'logo.png': 'image/png',
}

const iso = (ms: number) => new Date(ms).toISOString()

function tagView(t: TagRow, parents: ParentTag[]) {
  return {
    tag: t.name,
    group: t.group_name,
    label: t.label,
    kind: t.kind,
    version: t.kind === 'version' ? t.label : t.version,
    digest: t.archive_digest,
    manifestDigest: t.manifest_digest,
    parentTags: t.kind === 'version' ? parentTagsOf(t.name, parents) : [],
    updatedAt: iso(t.updated_at),
  }
}

interface PackJsonView {
  addonType?: string
  addonSubType?: string
  cloudTypes?: string[]
}

function packHeader(name: string, row: { display_name: string; layer: string; pack_json: string; files: string; updated_at: number }) {
  const pack = JSON.parse(row.pack_json) as PackJsonView
  const files = JSON.parse(row.files) as Record<string, { digest: string }>
  const logo = files['logo.png']
  return {
    name,
    displayName: row.display_name,
    layer: row.layer,
    addonType: pack.addonType ?? null,
    addonSubType: pack.addonSubType ?? null,
    cloudTypes: pack.cloudTypes ?? [],
    logoUrl: logo ? `/v1/${name}/blobs/${logo.digest}?type=image/png` : null,
    updatedAt: iso(row.updated_at),
  }
}

const TRUE_VALUES = new Set(['true', '1', 'yes', 'on'])
const FALSE_VALUES = new Set(['false', '0', 'no', 'off', ''])

function flag(fields: Record<string, string>, name: string): boolean {
  const value = (fields[name] ?? '').trim().toLowerCase()
  if (TRUE_VALUES.has(value)) return true
  if (FALSE_VALUES.has(value)) return false
  throw new RegistryError('BAD_REQUEST', `form field ${name} must be true or false (got ${JSON.stringify(fields[name])})`, { field: name })
}

const FORM_LIMITS = { fields: 10, fieldBytes: 64 * 1024 }

function publishOptions(fields: Record<string, string>, actor: string): PublishOptions {
  return {
    force: flag(fields, 'force'),
    message: fields.message?.trim() || null,
    skipDigestCheck: flag(fields, 'skipDigestCheck'),
    actor,
  }
}

export async function v1PacksPlugin(app: FastifyInstance, opts: { packs: PackService }): Promise<void> {
  const { packs } = opts
  const meta = packs.metadata
  const maxPage = app.registry.config.limits.pageSize

  const bodyIdleMs = app.registry.config.http.bodyIdleTimeoutMs
  // The push form is read by readForm as it streams; Fastify must not parse it first.
  app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null))

  const readText = async (entry: { digest: string } | undefined): Promise<string | null> => {
    if (!entry) return null
    const chunks: Buffer[] = []
    for await (const c of (await packs.open(entry.digest)) as AsyncIterable<Buffer>) chunks.push(c)
    return Buffer.concat(chunks).toString('utf8')
  }

  app.get('/_catalog', { schema: S.catalogSchema }, async (request, reply) => {
    const q = request.query as { n?: number; last: string }
    const n = pageSize(q.n, maxPage)
    const repositories = meta.catalog(q.last, n)
    setNextLink(reply, '/v1/_catalog', q, repositories, n)
    return { repositories }
  })

  app.get('/_packs', { schema: S.listPacksSchema }, async (request, reply) => {
    const q = request.query as { n?: number; last: string; name?: string; layer?: string }
    const n = pageSize(q.n, maxPage)
    const rows = meta.listPacks({ name: q.name || null, layer: q.layer || null, last: q.last, limit: n })
    const tagsByRepo = meta.tagsOfMany(rows.map((r) => r.id))
    setNextLink(reply, '/v1/_packs', q, rows.map((r) => r.name), n)
    return {
      packs: rows.map((row) => {
        const tags = tagsByRepo.get(row.id) ?? []
        const parents = packs.parentTags(row.id, tags)
        return { ...packHeader(row.name, row), tags: tags.filter((t) => t.kind !== 'parent').map((t) => tagView(t, parents)) }
      }),
    }
  })

  app.post('/_packs', { schema: S.pushSchema, onRequest: app.requireWriter }, async (request, reply) => {
    const actor = request.identity?.user ?? 'anonymous'
    const form = await readForm(request, bodyIdleMs, 'archive', FORM_LIMITS, async (file, fieldsBefore) => {
      // Fields sent before the file are known now: refuse a forced push without a message before reading it.
      PackService.checkForceMessage(publishOptions(fieldsBefore, actor))
      return packs.receive(file)
    })
    if (!form.file) throw new RegistryError('BAD_REQUEST', 'the form has no file part named "archive" (the pack .tar.gz)')
    const result = packs.commit(form.file, publishOptions(form.fields, actor))
    return reply.code(result.status === 'created' ? 201 : 200).send(result)
  })

  app.get('/_packs/:name', { schema: S.packDetailSchema }, async (request) => {
    const { name } = request.params as { name: string }
    const repo = packs.repo(name)
    const summary = meta.packSummary(repo.id)
    if (!summary) throw new RegistryError('NAME_UNKNOWN', `there is no pack named ${name} in this registry`, { name })
    const tags = meta.tagsOf(repo.id)
    const parents = packs.parentTags(repo.id, tags)
    const versions = await Promise.all(
      meta.versionsOf(repo.id).map(async (v) => {
        const files = packs.files(v)
        return {
          version: v.version,
          group: v.group_name,
          digest: v.archive_digest,
          manifestDigest: v.manifest_digest,
          contentDigest: v.content_digest,
          tags: tags.filter((t) => t.manifest_id === v.manifest_id).map((t) => t.name),
          pushedAt: iso(v.pushed_at),
          pushedBy: v.pushed_by,
          packJson: JSON.parse(v.pack_json) as object,
          values: (await readText(files['values.yaml'])) ?? '',
          readme: await readText(files['README.md']),
          presets: await readText(files['presets.yaml']),
          schema: await readText(files['schema.yaml']),
        }
      }),
    )
    return { ...packHeader(name, summary), tags: tags.map((t) => tagView(t, parents)), versions }
  })

  app.get('/_packs/:name/:ref', { schema: S.versionDetailSchema }, async (request) => {
    const { name, ref } = request.params as { name: string; ref: string }
    const { repo, version } = packs.resolve(name, ref)
    const tags = meta.tagsOf(repo.id)
    const parents = packs.parentTags(repo.id, tags)
    const mine = tags.filter((t) => t.manifest_id === version.manifest_id)
    return {
      name,
      version: version.version,
      group: version.group_name,
      digest: version.archive_digest,
      manifestDigest: version.manifest_digest,
      contentDigest: version.content_digest,
      size: version.archive_size,
      unpackedSize: version.unpacked_size,
      packJson: JSON.parse(version.pack_json) as object,
      files: packs.files(version),
      tags: mine.map((t) => tagView(t, parents)),
      pushedAt: iso(version.pushed_at),
      pushedBy: version.pushed_by,
      message: version.message,
      history: meta.history(name, mine.filter((t) => t.kind !== 'parent').map((t) => t.name), version.archive_digest).map((e) => ({
        at: iso(e.at),
        actor: e.actor,
        action: e.action,
        tag: e.tag,
        oldDigest: e.old_digest,
        newDigest: e.new_digest,
        forced: e.forced === 1,
        message: e.message,
      })),
    }
  })

  const archiveOf = (request: FastifyRequest, reply: import('fastify').FastifyReply, version: PackVersionRow, name: string) =>
    sendBlob(request, reply, {
      digest: version.archive_digest,
      size: version.archive_size,
      contentType: 'application/gzip',
      fileName: archiveFileName(name, version.version),
      open: (range) => packs.open(version.archive_digest, range),
    })

  app.get('/_packs/:name/:ref/archive', { schema: S.archiveSchema }, async (request, reply) => {
    const { name, ref } = request.params as { name: string; ref: string }
    const { version } = packs.resolve(name, ref)
    return archiveOf(request, reply, version, name)
  })

  app.get('/_packs/:name/:ref/files/*', { schema: S.fileSchema }, async (request, reply) => {
    const { name, ref, '*': path } = request.params as { name: string; ref: string; '*': string }
    const { version } = packs.resolve(name, ref)
    const entry = packs.fileEntry(version, path)
    return sendBlob(request, reply, {
      digest: entry.digest,
      size: entry.size,
      contentType: FILE_TYPES[path] ?? 'application/octet-stream',
      open: (range) => packs.open(entry.digest, range),
    })
  })

  app.put('/_packs/:name/_tags/:tag', { schema: S.addTagSchema, onRequest: app.requireWriter }, async (request, reply) => {
    const { name, tag } = request.params as { name: string; tag: string }
    const { ref } = request.body as { ref: string }
    const result = packs.addTag(name, tag, ref, request.identity?.user ?? 'anonymous')
    const repo = packs.repo(name)
    const view = tagView(result.tag, packs.parentTags(repo.id))
    return reply.code(result.status === 'created' ? 201 : 200).send({ name, status: result.status, ...view })
  })

  app.delete('/_packs/:name/_tags/:tag', { schema: S.deleteTagSchema, onRequest: app.requireWriter }, async (request) => {
    const { name, tag } = request.params as { name: string; tag: string }
    const removed = packs.deleteTag(name, tag, request.identity?.user ?? 'anonymous')
    return { name, tag, digest: removed.archive_digest }
  })

  app.delete('/_packs/:name/:ref', { schema: S.deleteVersionSchema, onRequest: app.requireWriter }, async (request) => {
    const { name, ref } = request.params as { name: string; ref: string }
    const { version, tags } = packs.deleteVersion(name, ref, request.identity?.user ?? 'anonymous')
    return { name, version: version.version, digest: version.archive_digest, tags }
  })

  // The distribution-shaped read view of packs on /v1.

  app.get('/:name/tags/list', { schema: S.tagsListSchema }, async (request) => {
    const { name } = request.params as { name: string }
    const repo = packs.repo(name)
    return { name, tags: meta.tagsOf(repo.id).map((t) => t.name) }
  })

  app.route({
    method: ['GET', 'HEAD'],
    url: '/:name/manifests/:ref',
    schema: S.manifestSchema,
    handler: async (request, reply) => {
      const { name, ref } = request.params as { name: string; ref: string }
      const { version } = packs.resolve(name, ref)
      const m = packs.manifest(version)
      reply.header('docker-content-digest', m.digest)
      reply.header('etag', `"${m.digest}"`)
      reply.header('content-length', m.size)
      reply.type(m.media_type)
      return reply.send(request.method === 'HEAD' ? undefined : m.content)
    },
  })

  app.get('/:name/blobs/:digest', { schema: S.blobSchema }, async (request, reply) => {
    const { name, digest } = request.params as { name: string; digest: string }
    const { type } = request.query as { type?: string }
    const contentType = servableType(type)
    const { size } = await packs.blob(name, digest)
    return sendBlob(request, reply, {
      digest,
      size,
      contentType,
      open: (range) => packs.open(digest, range),
    })
  })
}
