// htpasswd files with bcrypt entries, as `htpasswd -Bbn USER PASSWORD` writes them.
// Parsing, hashing, adding and removing users, for the `packyard user` commands and the
// first-start bootstrap. Only bcrypt is accepted: other schemes (MD5 $apr1$, {SHA},
// crypt) are weak and are reported, not silently honoured.

import bcrypt from 'bcryptjs'
import { readFile } from 'node:fs/promises'
import { unlessMissing, writeFileAtomic } from '../files.js'

const BCRYPT_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/
const USER_RE = /^[^:\s]+$/

export interface HtpasswdEntries {
  users: Map<string, string>
  /** Lines that were skipped, with why (reported in the log). */
  problems: string[]
}

export function parseHtpasswd(text: string): HtpasswdEntries {
  const users = new Map<string, string>()
  const problems: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const colon = line.indexOf(':')
    const user = colon > 0 ? line.slice(0, colon) : ''
    const hash = colon > 0 ? line.slice(colon + 1) : ''
    if (user === '' || hash === '') {
      problems.push(`line ${i + 1}: not a user:hash entry`)
    } else if (!BCRYPT_RE.test(hash)) {
      problems.push(`line ${i + 1} (${user}): not a bcrypt hash; create it with htpasswd -B or packyard user add`)
    } else {
      users.set(user, hash)
    }
  })
  return { users, problems }
}

export function validateUserName(user: string): void {
  if (!USER_RE.test(user)) throw new Error(`invalid user name ${JSON.stringify(user)}: it must not be empty or contain ':' or spaces`)
}

export const BCRYPT_COST = 10

/** A `$2y$` entry, the prefix Apache's htpasswd writes, so either tool can read the file. */
export async function hashPassword(password: string, cost = BCRYPT_COST): Promise<string> {
  const hash = await bcrypt.hash(password, cost)
  return `$2y$${hash.slice(4)}`
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  // $2y$ and $2b$ are the same algorithm; bcryptjs names it $2b$.
  return bcrypt.compare(password, hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash)
}

/** The users of an htpasswd file, with the lines that were skipped; throws ENOENT when there is no file. */
export async function readHtpasswd(path: string): Promise<HtpasswdEntries> {
  return parseHtpasswd(await readFile(path, 'utf8'))
}

/**
 * Adds or replaces USER's entry, keeping every other line as it was. Written to a temp file,
 * fsynced and renamed, so a reader never sees a half-written file.
 */
export async function setHtpasswdUser(path: string, user: string, password: string): Promise<'added' | 'updated'> {
  validateUserName(user)
  const hash = await hashPassword(password)
  let found = false
  await rewriteHtpasswd(path, (lines) => {
    const out = lines.map((l) => {
      if (userOf(l) !== user) return l
      found = true
      return `${user}:${hash}`
    })
    return found ? out : [...out, `${user}:${hash}`]
  })
  return found ? 'updated' : 'added'
}

/** Removes USER's entry (every line naming it); false when the file has no such user. */
export async function removeHtpasswdUser(path: string, user: string): Promise<boolean> {
  let found = false
  await rewriteHtpasswd(path, (lines) => {
    const out = lines.filter((l) => userOf(l) !== user)
    found = out.length < lines.length
    return out
  })
  return found
}

function userOf(line: string): string {
  return line.slice(0, line.indexOf(':'))
}

/** Replaces the file's lines (blank ones dropped) with what `edit` makes of them, atomically; no change, no write. */
async function rewriteHtpasswd(path: string, edit: (lines: string[]) => string[]): Promise<void> {
  const existing = (await unlessMissing(readFile(path, 'utf8'))) ?? ''
  const before = existing.split(/\r?\n/).filter((l) => l !== '')
  const after = edit(before)
  if (after.length === before.length && after.every((l, i) => l === before[i])) return
  await writeFileAtomic(path, after.length === 0 ? '' : `${after.join('\n')}\n`, 0o600)
}
