// Writes into a pack repository from a distribution client (either /v1/<name> or
// /v2/<oci.namespace>/<name>): any valid manifest is stored byte for byte. One that holds a pack
// goes through the same validation and the same publish transaction as a /v1/_packs push, so
// tags, groups and parent tags come out exactly the same; a recognised pack that is invalid is
// refused (MANIFEST_INVALID with the pack error in detail) rather than stored half-understood.
// Anything else is kept as an artifact under the same tag rules. Deletes follow the pack rules
// too: parent tags cannot be deleted, and deleting a version re-links them.

import { isRegistryError, RegistryError } from '../errors.js'
import type { NewManifest } from '../meta/manifests.js'
import type { ParsedManifest } from '../oci/manifests.js'
import type { ManifestOutcome, PackOciBridge } from '../oci/pack-bridge.js'
import { checkPushedTag, type PackService, type ReceivedPack, tagParts } from './service.js'
import { parseVersion } from './versions.js'

const DESCRIPTION = 'org.opencontainers.image.description'

export class PackBridge implements PackOciBridge {
  constructor(private readonly packs: PackService) {}

  async putManifest(packName: string, reference: string, body: Buffer, parsed: ParsedManifest, actor: string): Promise<{ digest: string; outcome: ManifestOutcome }> {
    const byTag = !reference.includes(':')
    if (byTag) checkPushedTag(reference)
    const manifest: NewManifest = {
      digest: parsed.digest,
      mediaType: parsed.mediaType,
      artifactType: parsed.artifactType,
      content: body,
      subjectDigest: parsed.subject?.digest ?? null,
      blobs: parsed.blobs,
      manifests: parsed.manifests,
    }
    const message = parsed.annotations?.[DESCRIPTION] ?? null
    const lease = await this.packs.holdReferences(packName, parsed)
    let received: ReceivedPack | null
    try {
      received = await this.packs.recognise(parsed, manifest, lease)
    } catch (err) {
      await lease.release()
      throw asManifestInvalid(err, (e) => e.status < 500 && e.code !== 'MANIFEST_INVALID')
    }
    if (received === null) {
      const stored = await this.packs.commitArtifact(packName, { manifest, tag: byTag ? reference : null, lease, actor, message })
      return { digest: parsed.digest, outcome: stored.outcome }
    }

    const { pack, tag } = received.checked
    const refuse = async (problem: string, detail: Record<string, unknown>) => {
      await lease.release()
      return new RegistryError('MANIFEST_INVALID', `manifest invalid: ${problem}`, detail)
    }
    if (pack.name !== packName) {
      throw await refuse(`it holds pack ${pack.name}, not ${packName}; push it to the repository named after the pack`, { pack: pack.name })
    }
    const label = tagParts(reference).label
    if (byTag && label !== pack.version && parseVersion(label) !== null) {
      throw await refuse(`the tag ${reference} names a version, but pack.json says version ${pack.version} (tag ${tag})`, { tag: reference, versionTag: tag })
    }
    // A repeated copy of the same manifest (skopeo, oras) changes nothing: its push event alone.
    if (await this.packs.repushed(received, [tag, ...(byTag ? [reference] : [])], actor, message, byTag ? reference : undefined)) {
      return { digest: parsed.digest, outcome: 'unchanged' }
    }
    let result
    try {
      result = await this.packs.commit(
        received,
        { force: true, message: message ?? `pushed with a distribution client as ${reference}`, skipDigestCheck: true, strict: false, actor },
        byTag ? reference : undefined,
      )
    } catch (err) {
      // Warnings refused by packs.validation: strict, said in the distribution API's terms.
      throw asManifestInvalid(err, (e) => e.code === 'PACK_INVALID')
    }
    return { digest: parsed.digest, outcome: result.status }
  }

  async deleteManifest(packName: string, digest: string, actor: string): Promise<void> {
    await this.packs.deleteManifest(packName, digest, actor)
  }

  async deleteTag(packName: string, tag: string, actor: string): Promise<void> {
    await this.packs.deleteTag(packName, tag, actor, 'DENIED')
  }
}

/** A pack error that `matches`, as the MANIFEST_INVALID a distribution client understands. */
function asManifestInvalid(err: unknown, matches: (err: RegistryError) => boolean): unknown {
  if (!isRegistryError(err) || !matches(err)) return err
  return new RegistryError('MANIFEST_INVALID', `the manifest holds a pack that is not valid: ${err.message}`, { code: err.code, ...err.detail })
}
