// The registry under attack, run the way an operator runs it: `node bin/packyard.js serve CONFIG`
// as a child process on a free loopback port, with a YAML config, filesystem storage under a
// root of the campaign's choosing and htpasswd (bcrypt) auth with two users, a writer (admin)
// and a read-only user (palette, as Palette's own account). The config sets the body idle
// timeout to 2 s so that stalled uploads are settled quickly. A category can kill the server
// (SIGKILL, as a crash or power loss would), restart it on the same root and port, or notice
// that it died by itself (a crash, which is what the campaign counts). Operator commands
// (`fsck`, `garbage-collect`) run against the same config, as separate processes.

import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { type Endpoint, endpoint } from '../http.js'
import { cleanEnv, freePort, launch, type Registry } from '../registries.js'

export interface User {
  user: string
  password: string
}

export interface Users {
  admin: User
  reader: User
  /** the htpasswd file holding both */
  htpasswd: string
}

// Apache's default for -B; low enough that a few hundred failed logins cost milliseconds each.
const BCRYPT_COST = '5'

/** Writes `<dir>/htpasswd` with a writer and a read-only user, made by Apache's htpasswd as operators make them. */
export function createUsers(dir: string): Users {
  const admin = { user: 'admin', password: randomBytes(12).toString('hex') }
  const reader = { user: 'palette', password: randomBytes(12).toString('hex') }
  const htpasswd = join(dir, 'htpasswd')
  const line = (u: User) => execFileSync('htpasswd', ['-Bbn', '-C', BCRYPT_COST, u.user, u.password], { encoding: 'utf8' }).trim()
  writeFileSync(htpasswd, `${line(admin)}\n${line(reader)}\n`)
  return { admin, reader, htpasswd }
}

export interface ServerSpec {
  /** the working directory of the server; its config.yml is written here */
  dir: string
  /** storage.filesystem.rootdirectory */
  root: string
  users: Users
  /** extra keys of the `limits` section */
  limits?: Record<string, unknown>
  /** extra keys of the `http` section */
  http?: Record<string, unknown>
  /** database.path (default: in the root) */
  database?: string
  /** database.url: the metadata in PostgreSQL rather than SQLite */
  databaseUrl?: string
  /** extra keys of storage.maintenance.uploadpurging */
  uploadPurging?: Record<string, unknown>
  /** the notifications section */
  notifications?: Record<string, unknown>
}

export function authorization(u: User): string {
  return `Basic ${Buffer.from(`${u.user}:${u.password}`).toString('base64')}`
}

export class ChaosServer {
  private registry: Registry
  private peakMb = 0
  /** the admin's and the read-only user's keep-alive endpoints; new ones after every restart */
  admin: Endpoint
  reader: Endpoint

  private constructor(
    readonly spec: ServerSpec,
    readonly base: string,
    readonly config: string,
    registry: Registry,
  ) {
    this.registry = registry
    this.admin = endpoint('packyard', base, spec.users.admin.user, spec.users.admin.password, 16)
    this.reader = endpoint('packyard', base, spec.users.reader.user, spec.users.reader.password, 16)
  }

  static async start(spec: ServerSpec): Promise<ChaosServer> {
    mkdirSync(spec.dir, { recursive: true })
    mkdirSync(spec.root, { recursive: true })
    const port = await freePort()
    const config = join(spec.dir, 'config.yml')
    const database = { ...(spec.database ? { path: spec.database } : {}), ...(spec.databaseUrl ? { url: spec.databaseUrl } : {}) }
    // JSON is YAML.
    const doc = {
      version: 0.1,
      log: { level: 'warn' },
      storage: { filesystem: { rootdirectory: spec.root }, delete: { enabled: true }, ...(spec.uploadPurging ? { maintenance: { uploadpurging: spec.uploadPurging } } : {}) },
      ...(Object.keys(database).length > 0 ? { database } : {}),
      http: { addr: `127.0.0.1:${port}`, draintimeout: '5s', bodyidletimeout: '2s', ...spec.http },
      auth: { htpasswd: { realm: 'chaos', path: spec.users.htpasswd }, access: { writers: [spec.users.admin.user] } },
      limits: { maxcompressionratio: 200, ...spec.limits },
      ...(spec.notifications ? { notifications: spec.notifications } : {}),
    }
    writeFileSync(config, `${JSON.stringify(doc, null, 2)}\n`)
    const base = `http://127.0.0.1:${port}`
    return new ChaosServer(spec, base, config, await ChaosServer.launch(spec, base, config))
  }

  private static launch(spec: ServerSpec, base: string, config: string): Promise<Registry> {
    const ep = endpoint('packyard', base, spec.users.admin.user, spec.users.admin.password, 16)
    return launch({
      kind: 'packyard',
      command: process.execPath,
      args: [join(PACKAGE_ROOT, 'bin', 'packyard.js'), 'serve', config],
      env: cleanEnv({}),
      storage: spec.dir,
      readyUrl: `${base}/health`,
      readyStatus: 200,
      ep,
    })
  }

  get pid(): number {
    return this.registry.pid
  }

  /** Why the server is gone (exit code, signal, last output) if it died by itself, else null. */
  death(): string | null {
    return this.registry.death()
  }

  /** Remembers the peak resident set of the running process; call it often, a crash loses the last one. */
  samplePeak(): number {
    if (this.registry.death() === null) {
      try {
        this.peakMb = Math.max(this.peakMb, this.registry.memory().peakMb)
      } catch {
        // gone between the check and the read: the next sample after the restart counts
      }
    }
    return this.peakMb
  }

  /** SIGKILL now and wait for the process to be gone. */
  async kill9(): Promise<void> {
    this.samplePeak()
    await this.registry.kill()
  }

  /** Starts a new process on the same config (root, port), after a kill or a crash. */
  async restart(): Promise<void> {
    await this.registry.kill()
    this.admin.agent.destroy()
    this.reader.agent.destroy()
    this.registry = await ChaosServer.launch(this.spec, this.base, this.config)
    this.admin = endpoint('packyard', this.base, this.spec.users.admin.user, this.spec.users.admin.password, 16)
    this.reader = endpoint('packyard', this.base, this.spec.users.reader.user, this.spec.users.reader.password, 16)
  }

  async stop(): Promise<void> {
    this.samplePeak()
    this.admin.agent.destroy()
    this.reader.agent.destroy()
    await this.registry.stop()
  }
}

export interface CliRun {
  /** null: killed after its timeout */
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `packyard <args>` (an operator command) to completion; never throws for a non-zero exit.
 * With `timeoutMs`, a process still running then is killed and its code is null.
 */
export function runCli(args: string[], cwd: string, timeoutMs = 0): Promise<CliRun> {
  return new Promise((resolve) => {
    const options = { cwd, env: cleanEnv({}), maxBuffer: 16 << 20, timeout: timeoutMs, killSignal: 'SIGKILL' as const }
    execFile(process.execPath, [join(PACKAGE_ROOT, 'bin', 'packyard.js'), ...args], options, (err, stdout, stderr) => {
      const code = err ? (err.killed ? null : typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

export interface FsckResult {
  /** damaged or missing blobs it listed; null when fsck itself failed to run */
  problems: number | null
  output: string
}

/** `packyard fsck CONFIG`: the number of damaged or missing blobs it reports. */
export async function fsck(server: ChaosServer): Promise<FsckResult> {
  const run = await runCli(['fsck', server.config], server.spec.dir)
  const summary = /checked \d+ blobs \([^)]*\): (?:no problems|(\d+) problems)/.exec(run.stdout)
  const output = `${run.stdout}${run.stderr}`.trim()
  if (!summary) return { problems: null, output }
  return { problems: summary[1] === undefined ? 0 : Number(summary[1]), output }
}
