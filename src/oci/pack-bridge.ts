// The seam between the OCI distribution API and packs. Reads under `<oci.namespace>/` are
// served straight from the shared tables (a pack is a repository of kind 'pack'); writes
// there must go through pack validation, tag and parent-tag rules, so the /v2 surface hands
// them to this bridge. Without a bridge those writes answer 405 UNSUPPORTED.

import type { ParsedManifest } from './manifests.js'

/** What a manifest push did to its tag (by digest: to the manifest): made it, moved it, or nothing. */
export type ManifestOutcome = 'created' | 'updated' | 'unchanged'

export interface PackOciBridge {
  /**
   * Stores a manifest pushed to `<namespace>/<packName>:<reference>` (a tag or the body's
   * digest). The body has passed the generic manifest checks and the size cap and comes
   * parsed; the bridge checks that it is a pack, records it, and throws RegistryErrors.
   */
  putManifest(packName: string, reference: string, body: Buffer, manifest: ParsedManifest, actor: string): Promise<{ digest: string; outcome: ManifestOutcome }>
  /** Deletes the pack version whose manifest has `digest`, with its tags. */
  deleteManifest(packName: string, digest: string, actor: string): Promise<void>
  /** Deletes one tag of the pack (parent tags are refused by the bridge). */
  deleteTag(packName: string, tag: string, actor: string): Promise<void>
}
