// Damaged backups. A registry with packs pushed over /v1 and /v2 is backed up with
// `packyard backup`; then copies of the backup are damaged the ways disks, scripts and people
// damage them (registry.db emptied, truncated, of another schema; a backup.json from a newer
// Packyard; a blob gone; a blob with one flipped byte) and each is given to `packyard restore`
// with a fresh root. Every one must be refused, naming what is wrong, with nothing left in the
// target (refused before anything is written, or for a damaged blob, what was copied removed
// again); not one may be reported as restored. The undamaged backup must restore, fsck clean.

import Database from 'better-sqlite3'
import { cpSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readMigrations } from '../../src/meta/migrations.js'
import { Prng } from '../random.js'
import type { ChaosContext } from './context.js'
import { type Figure, INFO, POSITIVE, TRUE, ZERO } from './report.js'
import { ChaosServer, runCli } from './server.js'
import { Ledger, sha256, Writers } from './workload.js'

const CATEGORY = 'damaged backups'

interface Damage {
  kind: string
  /** Damages the copy of a backup at `dir`; returns what was done, for the findings. */
  apply: (dir: string, prng: Prng) => string
  /** What the refusal must say. */
  names: RegExp
}

function blobFiles(backup: string): string[] {
  const blobs = join(backup, 'blobs', 'sha256')
  return readdirSync(blobs)
    .flatMap((sub) => readdirSync(join(blobs, sub)).map((hex) => join(blobs, sub, hex)))
    .sort()
}

function pick<T>(items: T[], prng: Prng): T {
  return items[prng.int(0, items.length - 1)] as T
}

function editManifest(dir: string, edit: (manifest: Record<string, unknown>) => void): void {
  const file = join(dir, 'backup.json')
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  edit(manifest)
  writeFileSync(file, JSON.stringify(manifest, null, 2))
}

const known = readMigrations('sqlite').length

const DAMAGES: Damage[] = [
  {
    kind: 'registry.db emptied',
    apply: (dir) => {
      writeFileSync(join(dir, 'registry.db'), '')
      return ': > registry.db'
    },
    names: /registry\.db is 0 bytes, but backup\.json recorded \d+/,
  },
  {
    kind: 'registry.db truncated',
    apply: (dir, prng) => {
      const file = join(dir, 'registry.db')
      const size = prng.int(1, statSync(file).size - 1)
      truncateSync(file, size)
      return `registry.db cut to ${size} bytes`
    },
    names: /registry\.db is \d+ bytes, but backup\.json recorded \d+/,
  },
  {
    kind: 'registry.db of another schema',
    // Recorded as it is, as a tool rewriting the backup consistently would: only the schema tells.
    apply: (dir) => {
      const file = join(dir, 'registry.db')
      const db = new Database(file)
      db.prepare('DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)').run()
      db.close()
      const bytes = readFileSync(file)
      editManifest(dir, (m) => Object.assign(m.database as object, { size: bytes.length, digest: sha256(bytes) }))
      return `schema_migrations lost its last row; backup.json updated to the new size and sha256`
    },
    names: new RegExp(`registry\\.db is of schema version ${known - 1}, but backup\\.json recorded ${known}`),
  },
  {
    kind: 'backup.json of a newer schema',
    apply: (dir) => {
      editManifest(dir, (m) => (m.schemaVersion = known + 1))
      return `schemaVersion ${known + 1} in backup.json`
    },
    names: new RegExp(`schema version ${known + 1}, newer than this Packyard knows \\(${known}\\)`),
  },
  {
    kind: 'a blob missing',
    apply: (dir, prng) => {
      const victim = pick(blobFiles(dir), prng)
      unlinkSync(victim)
      return `removed blob ${victim.split('/').pop()}`
    },
    names: /1 of the \d+ blobs registry\.db refers to are not in the backup \(sha256:[0-9a-f]{64}\)/,
  },
  {
    kind: 'a blob with a flipped byte',
    apply: (dir, prng) => {
      const victim = pick(blobFiles(dir), prng)
      const bytes = readFileSync(victim)
      const at = prng.int(0, bytes.length - 1)
      bytes[at] = (bytes[at] as number) ^ (1 << prng.int(0, 7))
      writeFileSync(victim, bytes)
      return `flipped a bit of byte ${at} of blob ${victim.split('/').pop()}`
    },
    names: /1 blobs in .* are damaged, so nothing was restored \(the \d+ blobs copied meanwhile were removed again\): sha256:[0-9a-f]{64}: /,
  },
]

/** A config for `packyard restore` into `root` (JSON is YAML). */
function targetConfig(dir: string, name: string): { config: string; root: string } {
  const root = join(dir, 'targets', name)
  const config = join(dir, `${name}.yml`)
  writeFileSync(config, JSON.stringify({ log: { level: 'warn' }, storage: { filesystem: { rootdirectory: root } } }))
  return { config, root }
}

export async function backupsCategory(ctx: ChaosContext): Promise<Figure[]> {
  const { packs, rounds } = ctx.settings.backups
  const prng = new Prng('chaos-backups')
  const server = await ChaosServer.start({ dir: ctx.dir, root: join(ctx.dir, 'root'), users: ctx.users })
  const backup = join(ctx.dir, 'backup')
  let made
  try {
    const ledger = new Ledger(ctx.detail)
    await new Writers(ledger, ctx.dir, 'bk', 2).run(server, () => ledger.acknowledged >= packs || server.death() !== null)
    made = await runCli(['backup', backup, server.config], ctx.dir)
    if (made.code !== 0) throw new Error(`packyard backup exited ${made.code}: ${made.stdout}${made.stderr}`)
    ctx.progress(`damaged backups: backed up ${ledger.acknowledged} pushes (${blobFiles(backup).length} blobs)`)
  } finally {
    await server.stop()
  }

  let tried = 0
  let restored = 0
  let unnamed = 0
  let written = 0
  const slowest = { ms: 0, kind: '' }
  for (let round = 1; round <= rounds; round++) {
    for (const damage of DAMAGES) {
      const name = `r${round}-${damage.kind.replace(/[^a-z0-9]+/g, '-')}`
      const copy = join(ctx.dir, 'damaged', name)
      cpSync(backup, copy, { recursive: true })
      const what = damage.apply(copy, prng)
      const target = targetConfig(ctx.dir, name)
      const started = Date.now()
      const run = await runCli(['restore', copy, target.config], ctx.dir, 60_000)
      const ms = Date.now() - started
      if (ms > slowest.ms) Object.assign(slowest, { ms, kind: damage.kind })
      tried++
      const said = `${run.stdout}${run.stderr}`.trim().slice(0, 600)
      if (run.code === 0 || /^Restored /m.test(run.stdout)) {
        restored++
        ctx.detail(`damaged backups: ${damage.kind} (${what}) was restored as if whole: ${said}`)
      } else if (!damage.names.test(run.stderr)) {
        unnamed++
        ctx.detail(`damaged backups: ${damage.kind} (${what}) was refused without naming it: exit ${run.code}: ${said}`)
      }
      const left = existsSync(target.root) ? readdirSync(target.root) : []
      if (left.length > 0) {
        written++
        ctx.detail(`damaged backups: ${damage.kind} (${what}) left ${left.join(', ')} in the target root`)
      }
    }
  }

  const whole = targetConfig(ctx.dir, 'undamaged')
  const good = await runCli(['restore', backup, whole.config], ctx.dir, 60_000)
  const clean = good.code === 0 && /fsck: checked [1-9]\d* blobs \([^)]*\): no problems/.test(good.stdout)
  if (!clean) ctx.detail(`damaged backups: the undamaged backup did not restore cleanly: exit ${good.code}: ${`${good.stdout}${good.stderr}`.slice(0, 600)}`)
  ctx.progress(`damaged backups: ${tried} tried, ${restored} restored as if whole, ${unnamed} refused without naming it, ${written} left something behind`)

  const figure = (name: string, value: number | boolean, rule = ZERO, unit?: string): Figure => ({ category: CATEGORY, name, value, rule, ...(unit ? { unit } : {}) })
  return [
    figure('damaged backups tried (emptied, truncated, other schema, newer schema, blob missing, blob flipped)', tried, POSITIVE),
    figure('reported as restored', restored),
    figure('refused without naming what is wrong', unnamed),
    figure('refusals that left something in the target root', written),
    figure('slowest refusal', slowest.ms, INFO, 'ms'),
    figure('the undamaged backup restores, fsck clean', clean, TRUE),
  ]
}
