// Building pack archives and multipart push bodies for tests, and pushing them through an app's
// inject (or the same calls over HTTP: test/fetch-inject.ts).

import { Readable } from 'node:stream'
import { writeReproducibleArchive } from '../src/packs/archive-write.js'
import { EMPTY_CONFIG, packManifest } from '../src/packs/oras-manifest.js'
import { sha256Digest as sha } from '../src/store/digest.js'
import type { Injector } from './fetch-inject.js'
import { ADMIN } from './helpers.js'

export type PackFiles = Record<string, string | Buffer>

export function packJson(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ name: 'hellouniverse', displayName: 'Hello Universe', version: '1.0.0', layer: 'addon', cloudTypes: ['all'], ...fields })
}

/** A valid pack: pack.json, values.yaml and whatever `extra` adds or overrides. */
export function packFiles(fields: Record<string, unknown> = {}, extra: PackFiles = {}): PackFiles {
  return { 'pack.json': packJson(fields), 'values.yaml': 'pack:\n  namespace: hello\n', ...extra }
}

export async function archive(files: PackFiles, folder = 'pack'): Promise<Buffer> {
  const inputs = Object.entries(files).map(([path, content]) => {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content)
    return { path, size: data.length, mode: 0o644, open: () => Readable.from([data]) }
  })
  const chunks: Buffer[] = []
  for await (const c of writeReproducibleArchive(folder, inputs)) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export function multipart(fields: Record<string, string>, file: Buffer | null, fileField = 'archive'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----packyard-test-boundary'
  const parts: Buffer[] = []
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`))
  }
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${fileField}"; filename="pack.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n`))
    parts.push(file, Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

export async function push(app: Injector, tgz: Buffer, fields: Record<string, string> = {}, authorization = ADMIN) {
  const body = multipart(fields, tgz)
  return app.inject({ method: 'POST', url: '/v1/_packs', payload: body.payload, headers: { ...body.headers, authorization } })
}

/** Pushes a valid pack with the given pack.json fields; fails the test unless it is created. */
export async function pushPack(app: Injector, fields: Record<string, unknown>, extra: PackFiles = {}, form: Record<string, string> = {}) {
  const res = await push(app, await archive(packFiles(fields, extra)), form)
  if (res.statusCode >= 300) throw new Error(`push failed: ${res.statusCode} ${res.body}`)
  return res.json() as { tag: string; digest: string; manifestDigest: string; contentDigest: string; status: string; parentTags: string[] }
}

export async function get(app: Injector, url: string, authorization = ADMIN) {
  return app.inject({ method: 'GET', url, headers: { authorization } })
}

export async function uploadBlob(app: Injector, repo: string, data: Buffer, authorization = ADMIN) {
  return app.inject({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/?digest=${sha(data)}`,
    payload: data,
    headers: { authorization, 'content-type': 'application/octet-stream' },
  })
}

/** What `oras push <repo>:<ref> NAME-VERSION.tar.gz` does: blobs, then the manifest. */
export async function orasPush(app: Injector, repo: string, ref: string, tgz: Buffer, fileName: string, authorization = ADMIN) {
  for (const blob of [EMPTY_CONFIG, tgz]) {
    const res = await uploadBlob(app, repo, blob, authorization)
    if (res.statusCode !== 201) return res
  }
  const manifest = packManifest({ digest: sha(tgz), size: tgz.length }, fileName)
  return app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${ref}`, payload: manifest.content, headers: { authorization, 'content-type': 'application/vnd.oci.image.manifest.v1+json' } })
}
