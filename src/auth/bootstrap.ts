// First start with an htpasswd path that does not exist yet: create it with user `admin` and a
// random password, so a fresh registry is never open by accident. The password is returned
// for the start-up log (printed once) and saved to the root's initial-admin-password (0600).

import { randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { unlessMissing, writeFileAtomic } from '../files.js'
import { setHtpasswdUser } from './htpasswd.js'

export interface BootstrapResult {
  user: string
  password: string
  /** Where the password was saved, or null for in-memory storage. */
  savedTo: string | null
}

export const BOOTSTRAP_USER = 'admin'

/** `passwordFile`: where to save the password too (null with in-memory storage). */
export async function bootstrapHtpasswd(htpasswdPath: string, passwordFile: string | null): Promise<BootstrapResult | null> {
  if ((await unlessMissing(stat(htpasswdPath))) !== null) return null
  const password = randomBytes(18).toString('base64url')
  if (passwordFile !== null) await writeFileAtomic(passwordFile, `${password}\n`, 0o600)
  await setHtpasswdUser(htpasswdPath, BOOTSTRAP_USER, password)
  return { user: BOOTSTRAP_USER, password, savedTo: passwordFile }
}
