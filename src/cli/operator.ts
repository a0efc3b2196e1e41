// Who runs an operator command (garbage-collect, user add/delete), as the event log records it,
// and the registry data such a command works on next to a running server.

import { userInfo } from 'node:os'
import type { Config } from '../config/load.js'
import { openRegistryData, type RegistryData } from '../registry-data.js'
import { CliError } from './command.js'

/** The operating-system user; a container may run under a uid with no name. */
export function operatingSystemUser(): string {
  try {
    return userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

/**
 * The server's storage and metadata (SQLite or PostgreSQL, as the config says), opened by an
 * operator command next to a running server, as the server opens them.
 */
export async function openOperatorData(config: Config): Promise<RegistryData> {
  if (config.storage.kind === 'inmemory') throw new CliError('this registry keeps its data in memory; there is nothing on disk to check or collect')
  return openRegistryData(config)
}
