// Test helpers that touch only the machine: temp dirs, free ports, the external programs the
// tests drive. Apart from test/helpers.ts (which re-exports them) because that one loads the
// whole app, and tap's before/after scripts (test/postgres-before.ts) should start fast.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

export function tempDir(t: Teardown, prefix = 'packyard-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Fails (never skips) when a program the test needs is missing, naming the Debian package. */
export function requireProgram(name: string, debianPackage = name): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error(`${name} is not installed; .ci/run installs it (apt-get install ${debianPackage})`)
  }
}

/** A loopback port nothing listens on right now, for programs that must be told their port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
