// GET /_client/...: the single-file client for download, without credentials (like /health), so
// a team needs nothing but the registry's address to start publishing:
//   /_client/                      what there is: version, commit, and each file's size and sha256
//   /_client/packyard-linux-x64    a file (Range, If-None-Match), its version and commit in headers
//   /_client/packyard-linux-x64.sha256   its sha256 as `sha256sum -c` reads it
// Nothing built: 404 saying how to build it. The files change with every release, so browsers and
// proxies revalidate them (ETag) instead of keeping them.

import type { FastifyInstance } from 'fastify'
import { CLIENT_TARGETS, type ClientDownloads, NOT_BUILT } from '../client-files.js'
import { RegistryError } from '../errors.js'
import { sendBlob } from './blob-response.js'
import { rawBody } from './bodies.js'
import { errorResponses } from './errors.js'

const SHA256_SUFFIX = '.sha256'

const fileSchema = {
  type: 'object',
  properties: {
    file: { type: 'string' },
    os: { type: 'string' },
    arch: { type: 'string' },
    size: { type: 'integer' },
    sha256: { type: 'string' },
    url: { type: 'string' },
  },
  required: ['file', 'os', 'arch', 'size', 'sha256', 'url'],
} as const

const listSchema = {
  operationId: 'listClientFiles',
  summary: 'The single-file packyard client: version, commit, and each platform\'s file with its size and sha256 (no credentials)',
  tags: ['operations'],
  security: [],
  response: {
    200: {
      type: 'object',
      properties: { version: { type: 'string' }, commit: { type: 'string' }, node: { type: 'string' }, files: { type: 'array', items: fileSchema } },
      required: ['version', 'commit', 'node', 'files'],
    },
    ...errorResponses,
  },
} as const

const downloadSchema = {
  operationId: 'getClientFile',
  summary: 'One file of the single-file packyard client (packyard-linux-x64, ...), or its sha256 with the suffix .sha256 (no credentials)',
  tags: ['operations'],
  security: [],
  params: {
    type: 'object',
    properties: { file: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' } },
    required: ['file'],
  },
  response: {
    200: rawBody('the executable, or its sha256 line', ['application/octet-stream', 'text/plain']),
    206: rawBody('the range asked for', ['application/octet-stream']),
    ...errorResponses,
  },
} as const

export async function clientDownloadsPlugin(app: FastifyInstance, opts: { downloads: ClientDownloads }): Promise<void> {
  const { downloads } = opts

  app.get('/_client/', { schema: listSchema }, async (request) => {
    const manifest = await downloads.manifest()
    if (manifest === null) throw new RegistryError('NOT_FOUND', NOT_BUILT)
    return {
      version: manifest.version,
      commit: manifest.commit,
      node: manifest.node,
      files: manifest.files.map((f) => {
        const target = CLIENT_TARGETS.find((t) => t.id === f.target)
        return { file: f.file, os: target?.os ?? '', arch: target?.arch ?? '', size: f.size, sha256: f.sha256, url: `${request.protocol}://${request.host}/_client/${f.file}` }
      }),
    }
  })

  // HEAD declared, not derived from GET: a derived one would answer Content-Length 0.
  app.route<{ Params: { file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/_client/:file',
    schema: downloadSchema,
    handler: async (request, reply) => {
      const name = request.params.file
      const checksum = name.endsWith(SHA256_SUFFIX)
      const { manifest, entry, open } = await downloads.find(checksum ? name.slice(0, -SHA256_SUFFIX.length) : name)
      reply.header('x-packyard-version', manifest.version).header('x-packyard-commit', manifest.commit)
      if (checksum) return reply.header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(`${entry.sha256}  ${entry.file}\n`)
      return sendBlob(request, reply, {
        digest: `sha256:${entry.sha256}`,
        size: entry.size,
        contentType: 'application/octet-stream',
        fileName: entry.file.endsWith('.exe') ? 'packyard.exe' : 'packyard',
        cacheControl: 'no-cache',
        open: async (range) => open(range),
      })
    },
  })
}
