// The OCI distribution client the scenarios drive both registries with, written against the
// distribution spec v1.1 so it says nothing Packyard-specific. Uploads are POST then PUT
// `?digest=` (the monolithic form every registry supports; distribution 2.8 ignores a digest on
// the POST itself); pushes of packs follow what `oras push` does: HEAD each blob, upload what is
// missing, then PUT the manifest.

import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { EMPTY_CONFIG, EMPTY_CONFIG_DIGEST, ORAS_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, archiveFileName, packManifest } from '../src/packs/oras-manifest.js'
import { type Endpoint, send } from './http.js'
import type { SyntheticPack } from './packs.js'

/** Where packs live on /v2 in both registries (Palette's OCI layout). */
export const PACK_NAMESPACE = 'spectro-packs/archive'

export const MANIFEST_ACCEPT = OCI_MANIFEST_MEDIA_TYPE

async function blobExists(ep: Endpoint, repo: string, digest: string): Promise<boolean> {
  const answer = await send(ep, { method: 'HEAD', url: `/v2/${repo}/blobs/${digest}`, expect: [200, 404] })
  return answer.status === 200
}

async function startUpload(ep: Endpoint, repo: string, query = ''): Promise<{ status: number; location: string }> {
  const answer = await send(ep, { method: 'POST', url: `/v2/${repo}/blobs/uploads/${query}`, expect: [201, 202] })
  const location = answer.headers.location
  if (answer.status === 202 && !location) throw new Error(`${ep.label}: POST /v2/${repo}/blobs/uploads/ answered 202 without a Location`)
  return { status: answer.status, location: location ?? '' }
}

async function finishUpload(ep: Endpoint, location: string, digest: string, body: Buffer | Readable, size: number): Promise<void> {
  const url = new URL(location, ep.base)
  url.searchParams.set('digest', digest)
  await send(ep, {
    method: 'PUT',
    url: url.toString(),
    headers: { 'content-type': 'application/octet-stream', 'content-length': size },
    body,
    expect: [201],
  })
}

/** Monolithic upload: POST for a session, PUT the whole body with its digest. */
export async function uploadBlob(ep: Endpoint, repo: string, digest: string, body: Buffer | Readable, size: number): Promise<void> {
  const { location } = await startUpload(ep, repo)
  await finishUpload(ep, location, digest, body, size)
}

/** Cross-repository mount; a registry may answer with an upload session instead (202), then the bytes go up. */
export async function mountBlob(ep: Endpoint, repo: string, digest: string, from: string, bytes: Buffer): Promise<void> {
  const started = await startUpload(ep, repo, `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`)
  if (started.status === 202) await finishUpload(ep, started.location, digest, bytes, bytes.length)
}

export async function putManifest(ep: Endpoint, repo: string, reference: string, content: Buffer): Promise<void> {
  await send(ep, {
    method: 'PUT',
    url: `/v2/${repo}/manifests/${reference}`,
    headers: { 'content-type': OCI_MANIFEST_MEDIA_TYPE, 'content-length': content.length },
    body: content,
    expect: [201],
  })
}

/** Downloads a blob, keeping nothing; checks the length, returns the bytes received. */
export async function downloadBlob(ep: Endpoint, repo: string, digest: string, size: number): Promise<number> {
  const answer = await send(ep, { method: 'GET', url: `/v2/${repo}/blobs/${digest}`, expect: [200], discard: true })
  if (answer.bytes !== size) throw new Error(`${ep.label}: GET blob ${digest} in ${repo} gave ${answer.bytes} bytes, expected ${size}`)
  return answer.bytes
}

/** Pushes a pack the way `oras push <ns>/<name>:<version> NAME-VERSION.tar.gz` does. */
export async function pushPackOci(ep: Endpoint, pack: SyntheticPack): Promise<void> {
  const repo = `${PACK_NAMESPACE}/${pack.name}`
  if (!(await blobExists(ep, repo, pack.digest))) await uploadBlob(ep, repo, pack.digest, createReadStream(pack.path), pack.size)
  if (!(await blobExists(ep, repo, EMPTY_CONFIG_DIGEST))) await uploadBlob(ep, repo, EMPTY_CONFIG_DIGEST, EMPTY_CONFIG, EMPTY_CONFIG.length)
  const manifest = packManifest({ digest: pack.digest, size: pack.size }, archiveFileName(pack.name, pack.version))
  await putManifest(ep, repo, pack.version, manifest.content)
}

/**
 * The smallest useful artifact manifest: the empty descriptor as config and only layer (the
 * image-spec 1.1 guidance for artifacts without content), made distinct by an annotation.
 */
export function tinyManifest(label: string): Buffer {
  const empty = { mediaType: ORAS_CONFIG_MEDIA_TYPE, digest: EMPTY_CONFIG_DIGEST, size: EMPTY_CONFIG.length }
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      artifactType: 'application/vnd.packyard.bench.v1',
      config: empty,
      layers: [empty],
      annotations: { 'org.opencontainers.image.ref.name': label },
    }),
  )
}
