// The /v1 pack routes (`/v1/_packs...`): list, push, read, tag, delete packs. Routes only parse
// the request and pick a view (packs/views.ts) or an operation (packs/publishing.ts), and note what
// the answer says happened for the request's log line (activity.ts). The rest of /v1 is the
// distribution API (../distribution/).

import type { FastifyInstance } from 'fastify'
import { RegistryError } from '../../errors.js'
import type { PageRequest } from '../../pages.js'
import type { PublishOptions } from '../../packs/pack-writes.js'
import { PackPublishing } from '../../packs/publishing.js'
import type { PackViews } from '../../packs/views.js'
import { sendBlob } from '../blob-response.js'
import { notePull, notePush, notePushAttempt, noteChange, shortDigest } from '../activity.js'
import { actorOf } from '../auth.js'
import { readForm } from '../multipart.js'
import { setNextLink } from '../pagination.js'
import * as S from './schemas.js'
import type { PullThrough } from '../../sync/on-demand.js'

interface NameParams {
  Params: { name: string }
}
interface RefParams {
  Params: { name: string; ref: string }
}
interface TagParams {
  Params: { name: string; tag: string }
}

const TRUE_VALUES = new Set(['true', '1', 'yes', 'on'])
const FALSE_VALUES = new Set(['false', '0', 'no', 'off', ''])

function flag(fields: Record<string, string>, name: string): boolean {
  const value = (fields[name] ?? '').trim().toLowerCase()
  if (TRUE_VALUES.has(value)) return true
  if (FALSE_VALUES.has(value)) return false
  throw new RegistryError('BAD_REQUEST', `form field ${name} must be true or false (got ${JSON.stringify(fields[name])})`, { field: name })
}

const PACKS_OPEN = Buffer.from('{"packs":[')
const COMMA = Buffer.from(',')
const PACKS_CLOSE = Buffer.from(']}')

const FORM_LIMITS = { fields: 10, fieldBytes: 64 * 1024 }

function publishOptions(fields: Record<string, string>, actor: string): PublishOptions {
  return {
    force: flag(fields, 'force'),
    message: fields.message?.trim() || null,
    skipDigestCheck: flag(fields, 'skipDigestCheck'),
    strict: flag(fields, 'strict'),
    actor,
  }
}

export async function v1PacksPlugin(
  app: FastifyInstance,
  opts: { packs: PackPublishing; views: PackViews; bodyIdleMs: number; onDemand: PullThrough | null; accelRedirect: string | null },
): Promise<void> {
  const { packs, views, bodyIdleMs, onDemand, accelRedirect } = opts
  // The push form is read by readForm as it streams; Fastify must not parse it first.
  app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null))

  app.get<{ Querystring: PageRequest & { name?: string; layer?: string } }>('/_packs', { schema: S.listPacksSchema }, async (request, reply) => {
    const { name, layer } = request.query
    const page = await views.listPacks({ name, layer }, request.query)
    setNextLink(reply, '/v1/_packs', { name, layer }, page)
    // Each pack is stored as the JSON listPacksSchema describes: joined as bytes, not parsed and re-serialized.
    const parts: Buffer[] = [PACKS_OPEN]
    page.items.forEach((item, i) => parts.push(...(i === 0 ? [item] : [COMMA, item])))
    parts.push(PACKS_CLOSE)
    return reply.type('application/json; charset=utf-8').send(Buffer.concat(parts))
  })

  app.post('/_packs', { schema: S.pushSchema, onRequest: app.requireWriter }, async (request, reply) => {
    const actor = actorOf(request)
    notePushAttempt(request, null)
    const form = await readForm(request, bodyIdleMs, 'archive', FORM_LIMITS, async (file, fieldsBefore) => {
      // Fields sent before the file are known now: refuse a forced push without a message before reading it.
      PackPublishing.checkForceMessage(publishOptions(fieldsBefore, actor))
      return packs.receive(file)
    })
    if (!form.file) throw new RegistryError('BAD_REQUEST', 'the form has no file part named "archive" (the pack .tar.gz)')
    const result = await packs.commit(form.file, publishOptions(form.fields, actor))
    notePush(request, { what: `${result.name}:${result.tag}`, outcome: result.status, size: result.size, digest: result.digest })
    return reply.code(result.status === 'created' ? 201 : 200).send(result)
  })

  // The tags of a pack or a version come a page at a time (n, last), with a Link to the next page.
  app.get<NameParams & { Querystring: PageRequest }>('/_packs/:name', { schema: S.packDetailSchema }, async (request, reply) => {
    const { name } = request.params
    await onDemand?.(name, null)
    const page = await views.packDetail(name, request.query)
    setNextLink(reply, `/v1/_packs/${name}`, {}, page)
    return page.detail
  })

  app.get<RefParams & { Querystring: PageRequest }>('/_packs/:name/:ref', { schema: S.versionDetailSchema }, async (request, reply) => {
    const { name, ref } = request.params
    await onDemand?.(name, ref)
    const page = await views.versionDetail(name, ref, request.query)
    setNextLink(reply, `/v1/_packs/${name}/${ref}`, {}, page)
    return page.detail
  })

  app.get<RefParams>('/_packs/:name/:ref/archive', { schema: S.archiveSchema }, async (request, reply) => {
    const { name, ref } = request.params
    await onDemand?.(name, ref)
    const archive = await views.archive(name, ref)
    notePull(request, `${name}:${ref}`, archive.digest)
    return sendBlob(request, reply, { ...archive, contentType: 'application/gzip', open: (range) => views.open(archive.digest, range), accel: accelRedirect })
  })

  app.get<{ Params: { name: string; ref: string; '*': string } }>('/_packs/:name/:ref/files/*', { schema: S.fileSchema }, async (request, reply) => {
    const { name, ref, '*': path } = request.params
    await onDemand?.(name, ref)
    const file = await views.file(name, ref, path)
    return sendBlob(request, reply, { ...file, contentType: S.FILE_TYPES[path] ?? 'application/octet-stream', open: (range) => views.open(file.digest, range), accel: accelRedirect })
  })

  app.get<NameParams & { Querystring: PageRequest }>('/_packs/:name/_tags', { schema: S.listTagsSchema }, async (request, reply) => {
    const { name } = request.params
    const page = await views.tagPage(name, request.query)
    setNextLink(reply, `/v1/_packs/${name}/_tags`, {}, page)
    return { name, tags: page.items, tagCount: page.tagCount }
  })

  app.put<TagParams & { Body: { ref: string } }>('/_packs/:name/_tags/:tag', { schema: S.addTagSchema, onRequest: app.requireWriter }, async (request, reply) => {
    const { name, tag } = request.params
    const result = await packs.addTag(name, tag, request.body.ref, actorOf(request))
    noteChange(request, `tagged ${name}:${request.body.ref} as ${name}:${tag}${result.status === 'unchanged' ? ' (it already was)' : ''}`)
    return reply.code(result.status === 'created' ? 201 : 200).send({ name, status: result.status, ...result.tag })
  })

  app.delete<TagParams>('/_packs/:name/_tags/:tag', { schema: S.deleteTagSchema, onRequest: app.requireWriter }, async (request) => {
    const { name, tag } = request.params
    const removed = await packs.deleteTag(name, tag, actorOf(request))
    noteChange(request, `deleted tag ${name}:${tag} (was ${shortDigest(removed.archive_digest ?? removed.manifest_digest)})`)
    return { name, tag, digest: removed.archive_digest }
  })

  app.delete<RefParams>('/_packs/:name/:ref', { schema: S.deleteVersionSchema, onRequest: app.requireWriter }, async (request) => {
    const { name, ref } = request.params
    const { version, tags } = await packs.deleteVersion(name, ref, actorOf(request))
    noteChange(request, `deleted ${name} ${version.version} (${shortDigest(version.archive_digest)}) and its tags ${tags.join(', ')}`)
    return { name, version: version.version, digest: version.archive_digest, tags }
  })
}
