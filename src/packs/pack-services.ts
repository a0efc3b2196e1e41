// The pack write services built over one set of shared rules: /v1/_packs publishing, pack
// recognition for distribution pushes, and the start-up work, each over the same PackWrites
// (one publish transaction, one parent-tag recomputation) and PackReceiver.

import type { BlobIntake } from '../blobs/intake.js'
import type { PackMeta } from '../meta/packs.js'
import type { BlobStore } from '../store/types.js'
import type { ArchiveLimits } from './archive-read.js'
import { DistributionPushes } from './distribution-pushes.js'
import { PackReceiver } from './pack-receiving.js'
import { PackWrites, type WriteSettings } from './pack-writes.js'
import { PackPublishing } from './publishing.js'
import { PackStartUpWork } from './start-up-work.js'
import type { PackViews } from './views.js'
import type { YamlChecker } from './yaml-checker.js'

/** What the pack write services are told by the config, and nothing more. */
export interface PackSettings extends WriteSettings {
  archive: ArchiveLimits
}

export interface PackServices {
  /** The pack writes of /v1/_packs. */
  publishing: PackPublishing
  /** Writes into pack repositories from distribution clients and the mirror (the PackOciBridge). */
  pushes: DistributionPushes
  startUp: PackStartUpWork
}

export function packServices(store: BlobStore, intake: BlobIntake, meta: PackMeta, views: PackViews, settings: PackSettings, yaml: YamlChecker): PackServices {
  const writes = new PackWrites(meta, views, { deleteEnabled: settings.deleteEnabled, strictValidation: settings.strictValidation })
  const receiver = new PackReceiver(intake, settings.archive, yaml)
  return {
    publishing: new PackPublishing(intake, receiver, writes, meta, views),
    pushes: new DistributionPushes(store, intake, meta, views, receiver, writes, settings.archive),
    startUp: new PackStartUpWork(store, meta, writes),
  }
}
