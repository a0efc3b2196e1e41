// Opens a registry's data the one way the server and every operator command share: the storage
// the config names (blob store, upload staging, space reserve), then the metadata it names (the
// SQLite file at the storage's database path, or PostgreSQL when database.url is set), wired so
// that a write the full disk refuses first frees the space reserve. close() closes the metadata;
// the storage holds nothing that needs closing.

import type { Config } from './config/load.js'
import type { Database } from './meta/database.js'
import { openDatabase } from './meta/db.js'
import { openStorage, type Storage } from './store/index.js'

export interface RegistryDataOptions {
  /** Problems worth an operator's attention that do not fail a request (the storage's warnings). */
  warn?: (message: string) => void
  /** Told when the full disk made the space reserve go, so the operator hears of it. */
  onReserveReleased?: () => void
}

export interface RegistryData {
  storage: Storage
  store: Storage['store']
  staging: Storage['staging']
  db: Database
  /** Where the first admin password is saved; null when nothing is kept on disk. */
  initialAdminPasswordFile: string | null
  /** Frees the space reserve; true when it did. */
  releaseReserve: () => boolean
  close(): Promise<void>
}

/** The metadata settings for this storage: SQLite lives where the storage says (':memory:' in memory). */
export function databaseSettings(config: Config, storage: Storage): Config['database'] {
  return config.database.kind === 'sqlite' ? { kind: 'sqlite', path: storage.databaseFile } : config.database
}

export async function openRegistryData(config: Config, options: RegistryDataOptions = {}): Promise<RegistryData> {
  const storage = await openStorage(config.storage, options.warn ? { warn: options.warn } : {})
  const db = await openDatabase(databaseSettings(config, storage))
  db.onStorageFull(() => {
    const freed = storage.releaseReserve()
    if (freed) options.onReserveReleased?.()
    return freed
  })
  return {
    storage,
    store: storage.store,
    staging: storage.staging,
    db,
    initialAdminPasswordFile: storage.initialAdminPasswordFile,
    releaseReserve: storage.releaseReserve,
    close: () => db.close(),
  }
}
