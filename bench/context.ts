// What every scenario gets: the sizes of this run (full or --quick), the running registries,
// a scratch directory and a progress line. The full sizes are the issue's; the quick ones keep
// every code path but fit a one-minute CI smoke run.
//
// There are three pairs of registries and a lone Packyard. The main pair stores on disk, as a
// deployment does, and takes every transfer: pushes, pulls, blobs. The downloads pair, on disk
// too, serves only the many-clients download, so the memory it measures does not depend on
// what the main pair did before. The listing pair serves the catalog and tags listings of
// 10,000 repositories, the lone Packyard the /v1 listing and the pack browser's pages of 10,000
// packs; each holds only the data its listing is about, so a figure does not depend on which
// other scenarios ran. Those three store on tmpfs: listings read from the page cache on any
// medium, but writing the reference's 670,000 storage files (and removing them) costs minutes
// on a small VM's disk, which would blow the bench's time budget without measuring anything.
// The CLI scenario has a Packyard of its own on disk and needs no reference registry.
//
// Each registry starts when a scenario first asks for it, so a run of some scenarios starts
// only the registries those need.

import type { SizeMix } from './packs.js'
import type { Credentials, Registry, RegistryOptions } from './registries.js'

export interface Settings {
  /** rounds of every scenario; each registry runs once per round */
  rounds: number
  /** how long a just-started registry is left alone before its idle RSS is read */
  idle: { seconds: number }
  /** each of the push figures pushes this many packs */
  push: { packs: number; concurrency: number }
  manifestGet: { connections: number; seconds: number }
  blobGet: { bytes: number; connections: number; seconds: number }
  /** manifest GETs (manifestGet.connections) while `concurrency` clients push `packs` packs of `sizes` */
  mixed: { packs: number; concurrency: number; sizes: SizeMix }
  /** one blob of `bytes` up and down, then one of `alsoBytes` */
  bigBlob: { bytes: number; alsoBytes: number }
  /** `clients` downloading one blob of `bytes` at once */
  downloads: { bytes: number; clients: number }
  listing: { repositories: number; tagsPerRepository: number; pageSize: number; tagSample: number; seedConcurrency: number }
  v1: { pushes: number; concurrency: number; packs: number; pageSize: number; seedConcurrency: number }
  /** requests per page per round of the pack browser (on the /v1 listing's packs) */
  ui: { requests: number }
  /** aliases added one by one to one pack, and how many adds at each end are timed */
  tags: { count: number; sample: number }
  /** `packyard` processes: `version` runs timed per round, and packs published one process each */
  cli: { versionRuns: number; packs: number }
  s3: { packs: number; blobBytes: number }
  /** `packyard sync` against `skopeo copy` in a loop: `small` packs of 50-300 KB, `large` packs of `largeBytes` */
  sync: { small: number; large: number; largeBytes: number }
}

export const FULL: Settings = {
  rounds: 3,
  idle: { seconds: 5 },
  push: { packs: 300, concurrency: 8 },
  manifestGet: { connections: 32, seconds: 5 },
  blobGet: { bytes: 1_000_000, connections: 8, seconds: 5 },
  mixed: { packs: 100, concurrency: 8, sizes: 'mixed' },
  bigBlob: { bytes: 1_000_000_000, alsoBytes: 256_000_000 },
  downloads: { bytes: 100_000_000, clients: 32 },
  listing: { repositories: 10_000, tagsPerRepository: 5, pageSize: 1000, tagSample: 1000, seedConcurrency: 16 },
  v1: { pushes: 300, concurrency: 8, packs: 10_000, pageSize: 1000, seedConcurrency: 16 },
  ui: { requests: 100 },
  tags: { count: 10_000, sample: 100 },
  cli: { versionRuns: 21, packs: 200 },
  s3: { packs: 100, blobBytes: 100_000_000 },
  sync: { small: 200, large: 5, largeBytes: 50_000_000 },
}

export const QUICK: Settings = {
  rounds: 2,
  idle: { seconds: 2 },
  push: { packs: 20, concurrency: 8 },
  manifestGet: { connections: 32, seconds: 2 },
  blobGet: { bytes: 1_000_000, connections: 8, seconds: 2 },
  // small packs: under a GET load a 50 MB pack alone takes most of a minute on a busy machine
  mixed: { packs: 16, concurrency: 8, sizes: 'small' },
  bigBlob: { bytes: 100_000_000, alsoBytes: 25_000_000 },
  downloads: { bytes: 10_000_000, clients: 32 },
  listing: { repositories: 500, tagsPerRepository: 5, pageSize: 100, tagSample: 200, seedConcurrency: 16 },
  v1: { pushes: 24, concurrency: 8, packs: 500, pageSize: 100, seedConcurrency: 16 },
  ui: { requests: 20 },
  tags: { count: 1000, sample: 50 },
  cli: { versionRuns: 5, packs: 20 },
  s3: { packs: 10, blobBytes: 10_000_000 },
  sync: { small: 20, large: 2, largeBytes: 10_000_000 },
}

export interface Pair {
  packyard: Registry
  reference: Registry
  /** both, Packyard first; `roundOrder` flips the order every other round */
  both: Registry[]
}

export interface Context {
  settings: Settings
  main: () => Promise<Pair>
  /** the pair of the many-clients download */
  downloads: () => Promise<Pair>
  listing: () => Promise<Pair>
  /** the Packyard of the /v1 listing and the pack browser (see pack-listing.ts) */
  packs: () => Promise<Registry>
  /** the Packyard the CLI scenario publishes to */
  cli: () => Promise<Registry>
  /** the credentials every registry accepts (a writer) */
  credentials: Credentials
  /** scratch space for pack sets, emptied by the runner */
  work: string
  progress: (message: string) => void
  /** for scenarios that start registries of their own (s3) */
  registryOptions: RegistryOptions
  /** hands a registry a scenario started to the runner, which stops it at the end whatever happens */
  adopt: (registry: Registry) => Registry
}
