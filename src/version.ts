// The Packyard version (from package.json) and the commit it was built from, so the server, the
// client files it serves and `packyard version` can be matched. The single-file client has no
// package.json or repository beside it: its build writes both in (PACKYARD_BUILD, an esbuild
// define). Elsewhere the commit is the file COMMIT in the package root (the Docker build writes
// it), else the checkout's HEAD, else "unknown".

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from './paths.js'

declare const PACKYARD_BUILD: { version: string; commit: string } | undefined

const BUNDLED = typeof PACKYARD_BUILD === 'undefined' ? null : PACKYARD_BUILD

export const VERSION: string = BUNDLED?.version ?? (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version

/** The file a build without the repository (the Docker image) records its commit in. */
export const COMMIT_FILE = join(PACKAGE_ROOT, 'COMMIT')

let commit: string | undefined

/** The commit this code was built from: 12 hex digits, or "unknown". Read once, when first asked. */
export function buildCommit(): string {
  commit ??= BUNDLED?.commit ?? recordedCommit() ?? checkoutCommit() ?? 'unknown'
  return commit
}

function recordedCommit(): string | null {
  if (!existsSync(COMMIT_FILE)) return null
  return readFileSync(COMMIT_FILE, 'utf8').trim() || null
}

function checkoutCommit(): string | null {
  if (!existsSync(join(PACKAGE_ROOT, '.git'))) return null
  // Required here, not imported: child_process costs every client command milliseconds to load.
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process')
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim() || null
  } catch {
    // No git on PATH, or not a repository after all: the commit is simply not known.
    return null
  }
}
