// First start without users: create user `admin` with a random password, so a fresh registry is
// never open by accident. With an htpasswd path that does not exist yet, the file is created
// and the password saved to the root's initial-admin-password (0600) as well as printed once;
// with in-memory storage and no path the entry is kept in memory only and nothing is written.
// Once the admin password is changed (or admin removed), the saved copy is deleted: it no
// longer opens anything and should not lie around.

import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { removeFile, unlessMissing, writeFileAtomic } from '../files.js'
import { hashPassword, setHtpasswdUser, verifyPassword } from './htpasswd.js'

export interface BootstrapResult {
  user: string
  password: string
  /** Where the password was saved, or null for in-memory storage. */
  savedTo: string | null
}

export const BOOTSTRAP_USER = 'admin'

function randomPassword(): string {
  return randomBytes(18).toString('base64url')
}

/** `passwordFile`: where to save the password too (null: print it only). Null when the file exists. */
export async function bootstrapHtpasswd(htpasswdPath: string, passwordFile: string | null): Promise<BootstrapResult | null> {
  if ((await unlessMissing(stat(htpasswdPath))) !== null) return null
  const password = randomPassword()
  if (passwordFile !== null) await writeFileAtomic(passwordFile, `${password}\n`, 0o600)
  await setHtpasswdUser(htpasswdPath, BOOTSTRAP_USER, password)
  return { user: BOOTSTRAP_USER, password, savedTo: passwordFile }
}

/** The generated admin of a registry whose users live in memory: its password and its entry. */
export async function inMemoryAdmin(): Promise<BootstrapResult & { users: Map<string, string> }> {
  const password = randomPassword()
  return { user: BOOTSTRAP_USER, password, savedTo: null, users: new Map([[BOOTSTRAP_USER, await hashPassword(password)]]) }
}

/**
 * Deletes the saved initial password when it no longer opens the admin account: `adminHash` is
 * admin's entry now (undefined when admin is gone). True when the file was deleted.
 */
export async function retireInitialPassword(passwordFile: string, adminHash: string | undefined): Promise<boolean> {
  const saved = await unlessMissing(readFile(passwordFile, 'utf8'))
  if (saved === null) return false
  if (adminHash !== undefined && (await verifyPassword(saved.trim(), adminHash))) return false
  return removeFile(passwordFile)
}
