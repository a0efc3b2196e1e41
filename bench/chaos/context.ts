// What every category of the campaign gets: the sizes of this run (full or --quick), a scratch
// directory of its own, the users, a place for the details behind its figures, and a progress
// line. The quick sizes keep every kind of probe (at least 300 bad-input cases, kill rounds,
// both GC races, the full disk, the auth checks, every kind of damaged backup, a second server
// on one database, a flood of upload sessions, replicas killed behind nginx and racing garbage
// collection) but fit CI's budget on two cores.

import type { Users } from './server.js'

export interface Settings {
  badInput: {
    /** randomly mutated pack archives pushed on top of the fixed cases */
    fuzzArchives: number
    /** randomly mutated manifests */
    fuzzManifests: number
    /** uncompressed size of the zeros inside the largest gzip bomb */
    bombBytes: number
  }
  /** the zeros inside each compression bomb (a multiple of 64 MiB) */
  bombs: { zerosBytes: number }
  kill: { rounds: number; writers: number; minMs: number; maxMs: number }
  gc: { writers: number; graceZeroSeconds: number; defaultGraceSeconds: number }
  fullDisk: { tmpfsMb: number }
  auth: { timingSamples: number; maxAttempts: number }
  /** packs in the backed-up registry; rounds of every kind of damage (each picks its own victim) */
  backups: { packs: number; rounds: number }
  /** second servers started on the first one's database */
  sharedDatabase: { attempts: number }
  /** upload sessions one writer asks for, at this many at once, against a cap of `cap` */
  uploadSessions: { sessions: number; concurrency: number; cap: number }
  /**
   * Three replicas behind nginx: `writers` push through it; `kills` kill -9 of a random replica,
   * one every `minMs`-`maxMs`, each restarted after `downMs`; a GC race of `gcSeconds`.
   */
  replicas: { writers: number; kills: number; minMs: number; maxMs: number; downMs: number; gcSeconds: number }
}

const MiB = 1 << 20

export const FULL: Settings = {
  badInput: { fuzzArchives: 250, fuzzManifests: 100, bombBytes: 1024 * MiB },
  bombs: { zerosBytes: 16 * 1024 * MiB },
  kill: { rounds: 20, writers: 8, minMs: 500, maxMs: 3000 },
  gc: { writers: 6, graceZeroSeconds: 40, defaultGraceSeconds: 15 },
  fullDisk: { tmpfsMb: 48 },
  auth: { timingSamples: 60, maxAttempts: 60 },
  backups: { packs: 24, rounds: 3 },
  sharedDatabase: { attempts: 5 },
  uploadSessions: { sessions: 20_000, concurrency: 32, cap: 100 },
  replicas: { writers: 8, kills: 20, minMs: 1000, maxMs: 4000, downMs: 1000, gcSeconds: 40 },
}

export const QUICK: Settings = {
  badInput: { fuzzArchives: 30, fuzzManifests: 20, bombBytes: 200 * MiB },
  bombs: { zerosBytes: 4 * 1024 * MiB },
  kill: { rounds: 5, writers: 4, minMs: 400, maxMs: 1200 },
  gc: { writers: 4, graceZeroSeconds: 6, defaultGraceSeconds: 3 },
  fullDisk: { tmpfsMb: 48 },
  auth: { timingSamples: 40, maxAttempts: 60 },
  backups: { packs: 8, rounds: 1 },
  sharedDatabase: { attempts: 2 },
  uploadSessions: { sessions: 2000, concurrency: 32, cap: 100 },
  replicas: { writers: 8, kills: 3, minMs: 1200, maxMs: 2500, downMs: 500, gcSeconds: 6 },
}

export interface ChaosContext {
  settings: Settings
  /** a directory of the category's own, removed after the run */
  dir: string
  users: Users
  /** why a must-be-0 figure is not 0: one line per offending request or check */
  detail: (line: string) => void
  progress: (message: string) => void
}
