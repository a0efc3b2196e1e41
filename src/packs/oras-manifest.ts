// The OCI manifest a pack version has on /v2: what `oras push <ref> NAME-VERSION.tar.gz` makes
// (ORAS 1.x, image-spec 1.1): the empty config, one layer titled with the file name. It is a
// pure function of the archive, so a version's manifest digest is stable; ORAS's
// `org.opencontainers.image.created` annotation is left out for exactly that reason.

import { sha256Digest } from '../store/digest.js'

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json'
export const EMPTY_CONFIG_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json'
export const EMPTY_CONFIG = Buffer.from('{}')
export const EMPTY_CONFIG_DIGEST = sha256Digest(EMPTY_CONFIG)
export const ORAS_ARTIFACT_TYPE = 'application/vnd.unknown.artifact.v1'
export const ORAS_FILE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar'
export const TITLE_ANNOTATION = 'org.opencontainers.image.title'

export interface PackManifest {
  content: Buffer
  digest: string
  mediaType: string
  artifactType: string | null
  /** Blobs the manifest refers to (config and layers). */
  blobs: Array<{ digest: string; size: number }>
}

export function archiveFileName(name: string, version: string): string {
  return `${name}-${version}.tar.gz`
}

export function packManifest(archive: { digest: string; size: number }, fileName: string): PackManifest {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: ORAS_ARTIFACT_TYPE,
    config: { mediaType: EMPTY_CONFIG_MEDIA_TYPE, digest: EMPTY_CONFIG_DIGEST, size: EMPTY_CONFIG.length, data: EMPTY_CONFIG.toString('base64') },
    layers: [{ mediaType: ORAS_FILE_MEDIA_TYPE, digest: archive.digest, size: archive.size, annotations: { [TITLE_ANNOTATION]: fileName } }],
  }
  const content = Buffer.from(JSON.stringify(manifest))
  return {
    content,
    digest: sha256Digest(content),
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: ORAS_ARTIFACT_TYPE,
    blobs: [{ digest: EMPTY_CONFIG_DIGEST, size: EMPTY_CONFIG.length }, archive],
  }
}
