// First start with an htpasswd path that does not exist yet: create it with user `admin` and a
// random password, so a fresh registry is never open by accident. The password is returned
// for the start-up log (printed once) and saved to <root>/initial-admin-password (0600).

import { randomBytes } from 'node:crypto'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { setHtpasswdUser, writeFileAtomic } from './htpasswd.js'

export interface BootstrapResult {
  user: string
  password: string
  /** Where the password was saved, or null for in-memory storage. */
  savedTo: string | null
}

export const BOOTSTRAP_USER = 'admin'

export async function bootstrapHtpasswd(htpasswdPath: string, rootDirectory: string | null): Promise<BootstrapResult | null> {
  try {
    await access(htpasswdPath)
    return null
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const password = randomBytes(18).toString('base64url')
  let savedTo: string | null = null
  if (rootDirectory !== null) {
    savedTo = join(rootDirectory, 'initial-admin-password')
    await writeFileAtomic(savedTo, `${password}\n`, 0o600)
  }
  await setHtpasswdUser(htpasswdPath, BOOTSTRAP_USER, password)
  return { user: BOOTSTRAP_USER, password, savedTo }
}
