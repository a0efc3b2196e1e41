// Parsing and validating the manifests a registry accepts: OCI image manifests and indexes
// (image-spec v1.1, with `subject` and `artifactType`) and Docker schema 2 manifests and
// manifest lists. The result names everything the manifest refers to, so the registry can
// check that each exists before it stores the manifest. Docker schema 1 is refused, as in
// distribution 2.8 with schema 1 disabled.

import { RegistryError } from '../errors.js'
import { isSha256Digest, sha256Digest } from '../store/digest.js'
import { isJsonObject, type JsonObject } from '../json.js'

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'

export const MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]

const IMAGE_TYPES = new Set([OCI_MANIFEST, DOCKER_MANIFEST])
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
])
/** Content-Types that say nothing about the manifest kind; the body's mediaType decides. */
const GENERIC_TYPES = new Set(['', 'application/json', 'application/octet-stream'])

// RFC 6838 type/subtype, which every descriptor mediaType must be.
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
}

export interface LayerDescriptor extends Descriptor {
  annotations: Record<string, string> | null
}

export interface ParsedManifest {
  mediaType: string
  digest: string
  size: number
  /**
   * What the referrers API reports for this manifest: its `artifactType`, else for an image
   * manifest the config's mediaType (image-spec v1.1), else null.
   */
  artifactType: string | null
  subject: Descriptor | null
  annotations: Record<string, string> | null
  /** An image manifest's config; null for an index. */
  config: Descriptor | null
  /** An image manifest's layers, foreign ones included; empty for an index. */
  layers: LayerDescriptor[]
  /** Config and layers that must be blobs of the repository (foreign layers excluded). */
  blobs: Descriptor[]
  /** Index entries that must be manifests of the repository. */
  manifests: Descriptor[]
}

function invalid(message: string, detail: Record<string, unknown> = {}): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `manifest invalid: ${message}`, detail)
}

/** `type/subtype` of a Content-Type header, lowercased, parameters dropped. */
export function baseMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}



function descriptor(value: unknown, field: string): Descriptor {
  if (!isJsonObject(value)) throw invalid(`${field} must be a descriptor object`, { field })
  const { mediaType, digest, size, artifactType } = value
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType)) {
    throw invalid(`${field}.mediaType must be a media type such as application/vnd.oci.image.layer.v1.tar+gzip`, { field: `${field}.mediaType` })
  }
  if (typeof digest !== 'string' || !isSha256Digest(digest)) {
    throw invalid(`${field}.digest must be sha256:<64 lowercase hex> (the only algorithm this registry stores)`, { field: `${field}.digest`, digest })
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${field}.size must be a non-negative integer`, { field: `${field}.size` })
  }
  if (value.urls !== undefined && (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string'))) {
    throw invalid(`${field}.urls must be a list of strings`, { field: `${field}.urls` })
  }
  annotations(value.annotations, `${field}.annotations`)
  if (artifactType !== undefined && (typeof artifactType !== 'string' || !MEDIA_TYPE.test(artifactType))) {
    throw invalid(`${field}.artifactType must be a media type`, { field: `${field}.artifactType` })
  }
  return { mediaType, digest, size }
}

function annotations(value: unknown, field: string): Record<string, string> | null {
  if (value === undefined) return null
  if (!isJsonObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalid(`${field} must be an object of strings`, { field })
  }
  return value as Record<string, string>
}

function descriptors(value: unknown, field: string): Array<{ raw: JsonObject; descriptor: Descriptor }> {
  if (!Array.isArray(value)) throw invalid(`${field} must be a list of descriptors`, { field })
  return value.map((item, i) => ({ raw: item as JsonObject, descriptor: descriptor(item, `${field}[${i}]`) }))
}

/**
 * A layer that lives elsewhere (Docker's foreign layers, OCI non-distributable layers, both
 * with `urls`) is not required to be in the repository, as in distribution.
 */
function isForeign(raw: JsonObject): boolean {
  return Array.isArray(raw.urls) && raw.urls.length > 0 && /foreign|nondistributable/.test(String(raw.mediaType))
}

/** Which manifest kind the request carries: the Content-Type, checked against the body. */
function resolveMediaType(contentType: string, doc: JsonObject): string {
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined
  if (doc.mediaType !== undefined && declared === undefined) throw invalid('mediaType must be a string', { field: 'mediaType' })
  let mediaType: string
  if (GENERIC_TYPES.has(contentType)) {
    // image-spec manifests may leave mediaType out; their shape then says which they are.
    mediaType = declared ?? (doc.config !== undefined ? OCI_MANIFEST : doc.manifests !== undefined ? OCI_INDEX : '')
  } else {
    if (declared !== undefined && declared !== contentType) {
      throw invalid(`the Content-Type ${contentType} does not match the manifest's mediaType ${declared}`, { contentType, mediaType: declared })
    }
    mediaType = contentType
  }
  if (SCHEMA1_TYPES.has(mediaType) || doc.schemaVersion === 1) {
    throw invalid('Docker schema 1 manifests are not supported; push schema 2 or OCI manifests', { mediaType })
  }
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw invalid(`unsupported manifest media type ${JSON.stringify(mediaType)}; supported: ${MANIFEST_MEDIA_TYPES.join(', ')}`, { mediaType })
  }
  return mediaType
}

/** Parses and validates `body` as a manifest sent with `contentType`; throws MANIFEST_INVALID. */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw invalid(`not JSON (${(err as Error).message})`)
  }
  if (!isJsonObject(doc)) throw invalid('the manifest must be a JSON object')
  const mediaType = resolveMediaType(baseMediaType(contentType), doc)
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2', { field: 'schemaVersion' })
  const oci = mediaType === OCI_MANIFEST || mediaType === OCI_INDEX

  let artifactType: string | null = null
  if (doc.artifactType !== undefined) {
    if (!oci || typeof doc.artifactType !== 'string' || !MEDIA_TYPE.test(doc.artifactType)) {
      throw invalid('artifactType must be a media type, and only OCI manifests and indexes have one', { field: 'artifactType' })
    }
    artifactType = doc.artifactType
  }
  let subject: Descriptor | null = null
  if (doc.subject !== undefined) {
    if (!oci) throw invalid('only OCI manifests and indexes may have a subject', { field: 'subject' })
    subject = descriptor(doc.subject, 'subject')
  }

  const parsed = {
    mediaType,
    digest: sha256Digest(body),
    size: body.length,
    subject,
    annotations: annotations(doc.annotations, 'annotations'),
  }
  if (IMAGE_TYPES.has(mediaType)) {
    if (doc.manifests !== undefined) throw invalid(`an image manifest (${mediaType}) has no "manifests"; an index does`, { field: 'manifests' })
    const config = descriptor(doc.config, 'config')
    const layers = descriptors(doc.layers, 'layers')
    if (mediaType === DOCKER_MANIFEST && layers.length === 0) throw invalid('a Docker schema 2 manifest needs at least one layer', { field: 'layers' })
    return {
      ...parsed,
      artifactType: artifactType ?? config.mediaType,
      config,
      layers: layers.map((l, i) => ({ ...l.descriptor, annotations: annotations(l.raw.annotations, `layers[${i}].annotations`) })),
      blobs: [config, ...layers.filter((l) => !isForeign(l.raw)).map((l) => l.descriptor)],
      manifests: [],
    }
  }
  if (doc.config !== undefined || doc.layers !== undefined) throw invalid(`an index (${mediaType}) has "manifests", not "config" or "layers"`, { field: 'config' })
  return { ...parsed, artifactType, config: null, layers: [], blobs: [], manifests: descriptors(doc.manifests, 'manifests').map((m) => m.descriptor) }
}
