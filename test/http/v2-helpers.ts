// Helpers for the /v2 tests: digests, pushing blobs and manifests through app.inject, and a
// small image (config + layers) or index built in memory.

import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { OCI_INDEX, OCI_MANIFEST } from '../../src/oci/manifests.js'
import { ADMIN } from '../helpers.js'

export const OCTET = 'application/octet-stream'

export function digestOf(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
}

export function descriptorOf(mediaType: string, data: Buffer | string): Descriptor {
  return { mediaType, digest: digestOf(data), size: Buffer.byteLength(data) }
}

/** Pushes a blob monolithically and checks the 201. */
export async function pushBlob(t: Test, app: FastifyInstance, name: string, data: Buffer | string): Promise<string> {
  const digest = digestOf(data)
  const res = await app.inject({
    method: 'POST',
    url: `/v2/${name}/blobs/uploads/?digest=${digest}`,
    headers: { authorization: ADMIN, 'content-type': OCTET },
    payload: Buffer.from(data),
  })
  t.equal(res.statusCode, 201, `blob ${digest.slice(0, 19)} pushed to ${name}`)
  return digest
}

export async function putManifest(app: FastifyInstance, name: string, reference: string, body: Buffer | string, mediaType = OCI_MANIFEST) {
  return app.inject({
    method: 'PUT',
    url: `/v2/${name}/manifests/${reference}`,
    headers: { authorization: ADMIN, 'content-type': mediaType },
    payload: Buffer.from(body),
  })
}

export interface Image {
  config: Buffer
  layers: Buffer[]
  manifest: Buffer
  digest: string
}

/** An OCI image: a config and layers of distinct content, and its manifest (not yet pushed). */
export function makeImage(seed: string, layerCount = 2, extra: Record<string, unknown> = {}): Image {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }))
  const layers = Array.from({ length: layerCount }, (_, i) => Buffer.from(`${seed} layer ${i} `.repeat(50 + i)))
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptorOf('application/vnd.oci.image.config.v1+json', config),
      layers: layers.map((l) => descriptorOf('application/vnd.oci.image.layer.v1.tar+gzip', l)),
      ...extra,
    }),
  )
  return { config, layers, manifest, digest: digestOf(manifest) }
}

/** Pushes an image's blobs, then its manifest under `reference`; checks the 201. */
export async function pushImage(t: Test, app: FastifyInstance, name: string, image: Image, reference = image.digest): Promise<void> {
  await pushBlob(t, app, name, image.config)
  for (const layer of image.layers) await pushBlob(t, app, name, layer)
  const res = await putManifest(app, name, reference, image.manifest)
  t.equal(res.statusCode, 201, `manifest pushed to ${name}:${reference}`)
}

export function makeIndex(images: Image[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map((image, i) => ({ ...descriptorOf(OCI_MANIFEST, image.manifest), platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' } })),
      ...extra,
    }),
  )
}

export function errorCode(res: { json(): unknown }): string {
  return (res.json() as { errors: Array<{ code: string }> }).errors[0]?.code ?? ''
}
