// Test helpers that touch only the machine: temp dirs, free ports, the external programs the
// tests drive. Apart from test/helpers.ts (which re-exports them) because that one loads the
// whole app, and tap's before/after scripts (test/postgres-before.ts) should start fast.

import { execFileSync, spawn } from 'node:child_process'
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

/**
 * Runs a compiled test file in a process of its own with `env` added (the storage and engine
 * matrices rerun whole suites that way); what it printed, and its passing and failing lines.
 */
export async function runSuiteFile(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; passes: number; failures: string[] }> {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('close', (exit) => resolve({ code: exit, output }))
  })
  const lines = output.split('\n')
  return { code, output, passes: lines.filter((line) => /^\s*ok /.test(line)).length, failures: lines.filter((line) => /^\s*not ok /.test(line)) }
}

/** A config document (YAML as parsed). */
export type Doc = Record<string, unknown>

/** `b` laid over `a`: objects merged key by key, anything else (lists included) replaced. */
export function merge(a: Doc, b: Doc): Doc {
  const out: Doc = { ...a }
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k] as Doc, v as Doc) : v
  }
  return out
}
