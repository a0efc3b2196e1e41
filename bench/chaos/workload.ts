// The writers of the kill and GC categories, and the ledger of what the server acknowledged.
// Half the writers push over /v1 (`POST /v1/_packs`, as `packyard pack push` does), half over
// /v2 (as `oras push` does: HEAD, upload the missing blobs, PUT the manifest). Each writer owns
// its own pack names, so every tag has one writer and its pushes are ordered: that is what makes
// "the tag must point at the last acknowledged push, or at a push that was still in flight"
// a precise rule. A writer mostly pushes new versions (spread over majors and minors, so parent
// tags move) and sometimes force-pushes an existing tag with other content.
//
// For every tag the ledger keeps the archive digest of its last acknowledged push, and the
// digests of pushes sent after it that got no answer (the server may have committed them before
// it died). A push refused with a status is not pending: the server said it did not happen.
//
// Behind a proxy (the replica categories) a push whose replica dies under it is answered 502 by
// the proxy, not by Packyard; with a retry policy the writer then sends the same push again, as
// real clients do, a bounded number of times. A retried push is one push in the ledger: it is
// acknowledged once, when an attempt is answered 2xx, or when a /v1 retry without force is
// refused with 409 naming the very archive it sent (the cut-off attempt had committed it). Any
// other refusal after a cut-off attempt leaves the push pending, since that attempt may have
// committed (a 5xx still counts as Packyard's error).

import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Endpoint } from '../http.js'
import { pushPackOci } from '../oci-client.js'
import { seededPackArchive } from '../packs.js'
import { Prng } from '../random.js'
import { pushPackV1 } from '../v1-client.js'
import type { ChaosServer } from './server.js'

export type Surface = 'v1' | 'v2'

export interface TagState {
  name: string
  tag: string
  surface: Surface
  /** archive digest of the last acknowledged push, null before the first */
  acked: string | null
  /** archive digests of pushes after it that got no answer */
  pending: Set<string>
}

/** Every status, so bench/http.ts hands each answer back instead of failing the push. */
export const ANY_STATUS: readonly number[] = Array.from({ length: 500 }, (_, i) => i + 100)

export class Ledger {
  readonly tags = new Map<string, TagState>()
  readonly names = new Set<string>()
  acknowledged = 0
  /** the archive digest of every acknowledged push, in order */
  readonly acknowledgedDigests: string[] = []
  /** pushes answered 5xx: each one a defect */
  serverErrors = 0
  /** pushes refused with a 4xx (in a GC race: a blob collected between upload and manifest) */
  refused = 0
  /** pushes that got no answer (the server was killed under them); with retries, after the last attempt */
  unanswered = 0
  /** attempts cut off: no answer, or 502/503/504 from the proxy in front (retry policy only) */
  cutOff = 0
  /** attempts sent again after a cut-off one */
  retries = 0
  /** pushes acknowledged by a 409 naming their own archive, after a cut-off attempt had committed it */
  confirmedByConflict = 0
  /** pushes refused with a 4xx after a cut-off attempt: still pending, the cut-off one may have committed */
  refusedAfterCutOff = 0

  constructor(private readonly detail: (line: string) => void) {}

  state(name: string, tag: string, surface: Surface): TagState {
    const key = `${name}:${tag}`
    let s = this.tags.get(key)
    if (!s) {
      s = { name, tag, surface, acked: null, pending: new Set() }
      this.tags.set(key, s)
      this.names.add(name)
    }
    return s
  }

  ack(s: TagState, digest: string): void {
    s.acked = digest
    s.pending.clear()
    this.acknowledged++
    this.acknowledgedDigests.push(digest)
  }

  refuse(s: TagState, digest: string, status: number, text: string): void {
    s.pending.delete(digest)
    if (status >= 500) this.serverError(s, text)
    else this.refused++
  }

  /**
   * A refusal after an attempt of the same push was cut off: that attempt may have committed,
   * so the push stays pending whatever this answer says.
   */
  refuseAfterCutOff(s: TagState, status: number, text: string): void {
    if (status >= 500) this.serverError(s, text)
    else this.refusedAfterCutOff++
  }

  private serverError(s: TagState, text: string): void {
    this.serverErrors++
    this.detail(`push of ${s.name}:${s.tag} over ${s.surface} answered ${text}`)
  }
}

/** How a writer behind a proxy retries a push whose attempt was cut off. */
export interface RetryPolicy {
  /** attempts per push, the first included */
  attempts: number
  /** wait before the n-th retry: n times this */
  backoffMs: number
}

interface WriterPlan {
  id: number
  surface: Surface
  names: string[]
}

const VERSIONS_PER_MAJOR = 6 * 10

export class Writers {
  private readonly plans: WriterPlan[]
  private readonly prng: Prng
  private readonly used = new Map<string, Set<string>>()
  private counter = 0

  /** `prefix` keeps the pack names of different categories apart; `dir` holds the /v2 writers' archives. */
  constructor(
    private readonly ledger: Ledger,
    private readonly dir: string,
    prefix: string,
    count: number,
    private readonly retry: RetryPolicy | null = null,
  ) {
    this.prng = new Prng(`chaos-writers-${prefix}`)
    this.plans = Array.from({ length: count }, (_, id) => ({
      id,
      surface: id % 2 === 0 ? 'v1' : 'v2',
      names: [0, 1, 2].map((j) => `${prefix}-w${id}-p${j}`),
    }))
  }

  /**
   * Runs every writer until `stop()` says so; resolves when all have finished their last push.
   * `target` is a server, or the proxy in front of several (its admin endpoint is read once).
   */
  async run(target: Pick<ChaosServer, 'admin'>, stop: () => boolean): Promise<void> {
    await Promise.all(this.plans.map((plan) => this.loop(plan, target.admin, stop)))
  }

  private async loop(plan: WriterPlan, ep: Endpoint, stop: () => boolean): Promise<void> {
    while (!stop()) await this.pushOnce(plan, ep)
  }

  private pickVersion(name: string): { version: string; forced: boolean } {
    const used = this.used.get(name) ?? new Set<string>()
    this.used.set(name, used)
    if (used.size > 0 && (this.prng.next() < 0.3 || used.size >= 3 * VERSIONS_PER_MAJOR)) {
      const existing = [...used]
      return { version: existing[this.prng.int(0, existing.length - 1)] as string, forced: true }
    }
    for (;;) {
      const version = `${this.prng.int(1, 3)}.${this.prng.int(0, 5)}.${this.prng.int(0, 9)}`
      if (!used.has(version)) {
        used.add(version)
        return { version, forced: false }
      }
    }
  }

  /** Mostly 8-64 KB like small packs; one in ten 0.25-1.5 MB, so some kills land mid-write. */
  private chartSize(): number {
    return this.prng.next() < 0.9 ? this.prng.int(8_000, 64_000) : this.prng.int(250_000, 1_500_000)
  }

  private async pushOnce(plan: WriterPlan, ep: Endpoint): Promise<void> {
    const name = plan.names[this.prng.int(0, plan.names.length - 1)] as string
    const { version, forced } = this.pickVersion(name)
    const archive = await seededPackArchive(name, version, `${name}:${version}:${this.counter++}`, this.chartSize())
    const pack = { name, version, archive, digest: sha256(archive) }
    const state = this.ledger.state(name, version, plan.surface)
    state.pending.add(pack.digest)
    const attempts = this.retry?.attempts ?? 1
    let outcome: PushOutcome
    let cut = false
    for (let attempt = 1; ; attempt++) {
      outcome = await pushArchive(ep, plan.surface, pack, { forced, scratch: join(this.dir, `w${plan.id}.tar.gz`) })
      if (this.retry === null || !cutOff(outcome)) break
      cut = true
      this.ledger.cutOff++
      if (attempt >= attempts) break
      this.ledger.retries++
      await new Promise((resolve) => setTimeout(resolve, attempt * (this.retry as RetryPolicy).backoffMs))
    }
    if (outcome.status === null || (this.retry !== null && cutOff(outcome))) this.ledger.unanswered++
    else if (outcome.status < 300) this.ledger.ack(state, pack.digest)
    else if (cut && outcome.status === 409 && outcome.text.includes(pack.digest)) {
      this.ledger.confirmedByConflict++
      this.ledger.ack(state, pack.digest)
    } else if (cut) this.ledger.refuseAfterCutOff(state, outcome.status, outcome.text)
    else this.ledger.refuse(state, pack.digest, outcome.status, outcome.text)
  }
}

export interface PackToPush {
  name: string
  version: string
  archive: Buffer
  digest: string
}

export interface PushOutcome {
  /** null when no answer came (the connection died) */
  status: number | null
  text: string
}

/**
 * One push over /v1 (forced when asked, with a message) or /v2 (ORAS-style, from `scratch`, a
 * file the archive is written to first). Never throws: the outcome is the final status.
 */
export async function pushArchive(ep: Endpoint, surface: Surface, pack: PackToPush, options: { forced: boolean; scratch: string }): Promise<PushOutcome> {
  try {
    if (surface === 'v1') {
      const fields: Record<string, string> = options.forced ? { force: 'true', message: 'chaos: forced re-push' } : {}
      const answer = await pushPackV1(ep, pack.archive, { fields, expect: ANY_STATUS })
      return { status: answer.status, text: `${answer.status} ${answer.body.toString('utf8', 0, 300)}` }
    }
    writeFileSync(options.scratch, pack.archive)
    await pushPackOci(ep, { name: pack.name, version: pack.version, path: options.scratch, size: pack.archive.length, digest: pack.digest })
    return { status: 201, text: '201' }
  } catch (err) {
    // bench/http.ts names the status of an unexpected answer; anything else is a dead connection.
    const message = err instanceof Error ? err.message : String(err)
    const answered = /answered (\d{3})/.exec(message)
    return { status: answered ? Number(answered[1]) : null, text: message.slice(0, 400) }
  }
}

/**
 * An attempt that got no answer from Packyard: the connection died, or the proxy answered 502 or
 * 504 because the replica behind it did (Packyard itself never answers either; the proxy's own
 * pages name nginx, and a HEAD's answer has no body to name anything), or 503 from nginx itself
 * (no replica it could reach; Packyard's own 503s are JSON, or bodiless on a HEAD, and count as
 * Packyard's).
 */
export function cutOff(outcome: PushOutcome): boolean {
  if (outcome.status === null) return true
  if (outcome.status !== 502 && outcome.status !== 503 && outcome.status !== 504) return false
  const body = /: answered \d{3}, expected [^:]*: ?(.*)$/s.exec(outcome.text)?.[1] ?? outcome.text.slice(4)
  const fromNginx = body.includes('<center>nginx')
  return outcome.status === 503 ? fromNginx : fromNginx || body.trim() === ''
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}
