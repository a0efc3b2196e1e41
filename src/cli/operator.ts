// Who runs an operator command (garbage-collect, user add/delete), as the event log records it.

import { userInfo } from 'node:os'

/** The operating-system user; a container may run under a uid with no name. */
export function operatingSystemUser(): string {
  try {
    return userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}
