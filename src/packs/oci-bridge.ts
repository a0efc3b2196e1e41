// Packs pushed over /v2: a manifest PUT to `<oci.namespace>/<name>:<ref>` whose layer is a pack
// archive goes through the same validation and the same publish transaction as a /v1 push, so
// tags, groups and parent tags come out exactly the same. The manifest bytes the client sent
// are what is stored, so digests survive copies between registries (skopeo, oras, crane).

import { RegistryError, isRegistryError } from '../errors.js'
import { DOCKER_MANIFEST, type LayerDescriptor, OCI_MANIFEST, type ParsedManifest } from '../oci/manifests.js'
import type { PackOciBridge } from '../oci/pack-bridge.js'
import { TITLE_ANNOTATION } from './oras-manifest.js'
import type { PackService } from './service.js'

const ARCHIVE_NAME = /\.(tar\.gz|tgz)$/

/** The layer holding the pack: the one titled *.tar.gz / *.tgz, or the only layer. */
function packLayer(manifest: ParsedManifest): LayerDescriptor {
  const titled = manifest.layers.filter((l) => ARCHIVE_NAME.test(l.annotations?.[TITLE_ANNOTATION] ?? ''))
  const chosen = titled.length === 1 ? titled[0] : manifest.layers.length === 1 ? manifest.layers[0] : undefined
  if (!chosen) {
    throw new RegistryError('MANIFEST_INVALID', 'a pack manifest must have one layer holding the pack archive (NAME-VERSION.tar.gz, as `oras push` makes it)', {
      layers: manifest.layers.length,
    })
  }
  return chosen
}

export class PackBridge implements PackOciBridge {
  constructor(private readonly packs: PackService) {}

  async putManifest(packName: string, reference: string, body: Buffer, parsed: ParsedManifest, actor: string): Promise<{ digest: string; created: boolean }> {
    if (parsed.mediaType !== OCI_MANIFEST && parsed.mediaType !== DOCKER_MANIFEST) {
      throw new RegistryError('MANIFEST_INVALID', `${parsed.mediaType} cannot be a pack: push an image manifest with the pack archive as its layer`, { mediaType: parsed.mediaType })
    }
    const layer = packLayer(parsed)
    const lease = await this.packs.holdManifestBlobs(packName, parsed.blobs)
    let received
    try {
      received = await this.packs.receiveStored(layer.digest, lease)
    } catch (err) {
      lease.release()
      if (isRegistryError(err) && err.status < 500) {
        throw new RegistryError('MANIFEST_INVALID', `the layer is not a valid pack: ${err.message}`, { code: err.code, ...err.detail })
      }
      throw err
    }
    if (received.pack.name !== packName) {
      lease.release()
      throw new RegistryError('MANIFEST_INVALID', `the archive holds pack ${received.pack.name}, not ${packName}; push it to the repository named after the pack`, {
        pack: received.pack.name,
      })
    }
    received.manifest = { content: body, digest: parsed.digest, mediaType: parsed.mediaType, artifactType: parsed.artifactType, blobs: parsed.blobs }
    const byTag = !reference.includes(':')
    // A repeated copy of the same manifest (skopeo, oras) is a no-op, not a new event.
    if (this.packs.alreadyTagged(packName, [received.tag, ...(byTag ? [reference] : [])], parsed.digest)) {
      lease.release()
      return { digest: parsed.digest, created: false }
    }
    const result = this.packs.commit(received, { force: true, message: `pushed over /v2 as ${reference}`, skipDigestCheck: true, actor }, byTag ? reference : undefined)
    return { digest: parsed.digest, created: result.status === 'created' }
  }

  async deleteManifest(packName: string, digest: string, actor: string): Promise<void> {
    this.packs.deleteVersion(packName, digest, actor)
  }

  async deleteTag(packName: string, tag: string, actor: string): Promise<void> {
    this.packs.deleteTag(packName, tag, actor)
  }
}
