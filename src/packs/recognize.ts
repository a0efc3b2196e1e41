// Which manifests pushed into a pack repository might be packs. A distribution client may push
// anything there; the registry keeps every valid manifest byte for byte, and indexes it as a
// pack when it recognises one. These rules only look at the manifest: they name the blob to
// look into, and the registry then decides by its bytes (a gzip tar holding pack.json; a
// pack.json document). Anything else, and anything with a subject (signatures, SBOMs,
// attestations of a version), is an opaque artifact. Pure; the shapes are pinned by a
// table-driven test.

import type { Descriptor, LayerDescriptor, ParsedManifest } from '../oci/manifests.js'
import { TITLE_ANNOTATION } from './oras-manifest.js'

export type PackShape =
  /** One layer may be the pack archive (ORAS 1.0 and 1.1 pushes, `skopeo copy` of them). */
  | { kind: 'archive'; layer: LayerDescriptor }
  /** pack.json is the config or a layer; the pack's other files are titled layers. */
  | { kind: 'files'; packJson: Descriptor; files: Array<{ path: string; blob: Descriptor }> }
  | { kind: 'artifact' }

const ARCHIVE_TITLE = /\.(tar\.gz|tgz)$/
/** Layer types an untitled single-layer pack archive is pushed with. */
const ARCHIVE_LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/gzip',
  'application/x-gzip',
  'application/tar+gzip',
  'application/octet-stream',
])
/** Config types that say "no config": pack.json is never one of these. */
const NOT_PACK_CONFIG_TYPES = new Set([
  'application/vnd.oci.empty.v1+json',
  'application/vnd.unknown.config.v1+json',
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
])
const PACK_JSON = 'pack.json'

function title(layer: LayerDescriptor): string | undefined {
  return layer.annotations?.[TITLE_ANNOTATION]
}

/** A title usable as a path inside a pack: relative, no `..`, no empty segments. */
function packFilePath(value: string | undefined): string | null {
  if (value === undefined || value === '' || value.startsWith('/')) return null
  const segments = value.split('/')
  return segments.some((s) => s === '' || s === '.' || s === '..') ? null : value
}

function isJsonType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json')
}

export function packShapeOf(manifest: ParsedManifest): PackShape {
  const { config, layers } = manifest
  if (config === null || manifest.subject !== null) return { kind: 'artifact' }

  const packJsonLayer = layers.find((l) => title(l) === PACK_JSON)
  const configIsPackJson = isJsonType(config.mediaType) && !NOT_PACK_CONFIG_TYPES.has(config.mediaType) && config.size > 2
  if (packJsonLayer || configIsPackJson) {
    const files: Array<{ path: string; blob: Descriptor }> = []
    for (const layer of layers) {
      if (layer === packJsonLayer) continue
      const path = packFilePath(title(layer))
      // A pack made of files names each one; an untitled layer means it is something else.
      if (path === null || path === PACK_JSON) return { kind: 'artifact' }
      files.push({ path, blob: layer })
    }
    return { kind: 'files', packJson: packJsonLayer ?? config, files }
  }

  const titled = layers.filter((l) => ARCHIVE_TITLE.test(title(l) ?? ''))
  if (titled.length === 1) return { kind: 'archive', layer: titled[0] as LayerDescriptor }
  const only = layers.length === 1 ? layers[0] : undefined
  if (titled.length === 0 && only && ARCHIVE_LAYER_TYPES.has(only.mediaType)) return { kind: 'archive', layer: only }
  return { kind: 'artifact' }
}
