// The OCI manifest a pack pushed through /v1/_packs has on the distribution surfaces: what
// `oras push <ref> NAME-VERSION.tar.gz` makes with ORAS 1.0, the version Palette's docs require
// for packs (so the shape its scanner was written against): an image manifest with the config
// `application/vnd.unknown.config.v1+json` holding `{}`, no artifactType, and one layer titled
// with the file name. It is a pure function of the archive, so a version's manifest digest is
// stable (a test pins one); ORAS's `org.opencontainers.image.created` annotation is left out
// for exactly that reason. ORAS 1.1+ pushes (artifactType, empty config) are recognised too.

import { sha256Digest } from '../store/digest.js'

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json'
/** ORAS 1.0's config type; its blob is `{}`, the same bytes as ORAS 1.1's empty config. */
export const ORAS_CONFIG_MEDIA_TYPE = 'application/vnd.unknown.config.v1+json'
export const EMPTY_CONFIG = Buffer.from('{}')
export const EMPTY_CONFIG_DIGEST = sha256Digest(EMPTY_CONFIG)
export const ORAS_FILE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar'
export const TITLE_ANNOTATION = 'org.opencontainers.image.title'

export interface PackManifest {
  content: Buffer
  digest: string
  mediaType: string
  /** What the referrers API reports: the config's media type, as for any image manifest. */
  artifactType: string
  /** Blobs the manifest refers to (config and layers). */
  blobs: Array<{ mediaType: string; digest: string; size: number }>
}

export function archiveFileName(name: string, version: string): string {
  return `${name}-${version}.tar.gz`
}

export function packManifest(archive: { digest: string; size: number }, fileName: string): PackManifest {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: ORAS_CONFIG_MEDIA_TYPE, digest: EMPTY_CONFIG_DIGEST, size: EMPTY_CONFIG.length },
    layers: [{ mediaType: ORAS_FILE_MEDIA_TYPE, digest: archive.digest, size: archive.size, annotations: { [TITLE_ANNOTATION]: fileName } }],
  }
  const content = Buffer.from(JSON.stringify(manifest))
  return {
    content,
    digest: sha256Digest(content),
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: ORAS_CONFIG_MEDIA_TYPE,
    blobs: [manifest.config, { mediaType: ORAS_FILE_MEDIA_TYPE, digest: archive.digest, size: archive.size }],
  }
}
