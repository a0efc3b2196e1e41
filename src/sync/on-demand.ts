// Pull-through (sync.registries[].ondemand, and distribution's proxy.remoteurl): a pull of a pack
// or tag that is not here, but that an on-demand upstream's content rules allow, fetches it from
// that upstream first (through the mirror, so it is validated and stored as a synced pack) and is
// then served from here. A parent tag (`1.x`, `edge__1.28.x`) fetches the versions it covers,
// and is computed here. Concurrent pulls of the same missing thing share one fetch. The on-demand
// upstreams are tried in their order until one has it: after one fails, the next is tried. A pull
// waits at most one deadline in all (the longest ondemandtimeout of those upstreams, not one per
// upstream): past it, or when every upstream fails, it is answered 503 naming the upstreams'
// failures (a fetch goes on, and a later pull finds its result). What is here is always served
// without asking an upstream.

import { RegistryError } from '../errors.js'
import type { SyncRegistryConfig } from '../config/sync.js'
import type { PackMeta } from '../meta/packs.js'
import { packNameProblem } from '../packs/names.js'
import { packMayMatch } from '../packs/sync-rules.js'
import { isParentLabel, parseTag } from '../packs/tags.js'
import { parseVersion } from '../packs/versions.js'
import type { Mirror } from './mirror.js'

export const ON_DEMAND_ACTOR = 'on-demand'

/** What the pull routes call before reading a pack (OnDemand.ensure). */
export type PullThrough = (name: string, ref: string | null) => Promise<void>

export class OnDemand {
  private readonly inFlight = new Map<string, Promise<void>>()
  private readonly closing = new AbortController()

  constructor(
    private readonly mirror: Mirror,
    private readonly registries: SyncRegistryConfig[],
    private readonly packMeta: PackMeta,
  ) {}

  /**
   * Makes sure pack `name` (with `ref`, a tag, when given) is here before a pull reads it: does
   * nothing when it is, or when no on-demand upstream could have it (the pull then answers its
   * usual 404). References by digest are never fetched.
   */
  async ensure(name: string, ref: string | null): Promise<void> {
    // A bad name or reference is the pull's own 400 or 404; a digest names no tag to fetch.
    if (packNameProblem(name) !== null || (ref !== null && ref.includes(':'))) return
    const wanted = wantedTags(ref)
    if (wanted === null || (await this.isHere(name, ref))) return
    const candidates = this.registries.filter((registry) => packMayMatch(registry.content, name))
    if (candidates.length === 0) return
    const deadline = Date.now() + Math.max(...candidates.map((r) => r.onDemandTimeoutMs))
    const failures: Array<{ label: string; message: string }> = []
    for (const registry of candidates) {
      const label = registry.basePath === '' ? registry.url : `${registry.url}/${registry.basePath}`
      const left = deadline - Date.now()
      if (left <= 0) {
        failures.push({ label, message: 'not asked: the pull\'s time was up' })
        continue
      }
      const key = `${label}\n${name}\n${ref ?? ''}`
      let fetch = this.inFlight.get(key)
      if (!fetch) {
        fetch = this.mirror.fetchPack(registry, name, wanted, ON_DEMAND_ACTOR, this.closing.signal).then(async (report) => {
          const failure = report.tags.find((t) => t.outcome === 'failed')
          if (failure && !(await this.isHere(name, ref))) throw new Error(failure.message ?? 'the copy failed')
        })
        fetch.finally(() => this.inFlight.delete(key)).catch(() => {})
        this.inFlight.set(key, fetch)
      }
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${Math.min(left, registry.onDemandTimeoutMs) / 1000}s`)), Math.min(left, registry.onDemandTimeoutMs))
      })
      try {
        await Promise.race([fetch, timeout])
      } catch (err) {
        failures.push({ label, message: (err as Error).message })
        continue
      } finally {
        clearTimeout(timer)
      }
      if (await this.isHere(name, ref)) return
    }
    if ((await this.isHere(name, ref)) || failures.length === 0) return
    const what = failures.map((f, i) => `${i === 0 ? 'fetching it from' : 'from'} ${f.label} failed: ${f.message}`).join('; ')
    throw new RegistryError('UNAVAILABLE', `${name}${ref === null ? '' : `:${ref}`} is not here, and ${what}`, { upstream: failures[0]!.label, upstreams: failures.map((f) => f.label) }, { 'retry-after': '30' })
  }

  /** On close: no further tag is started; resolves when the fetches in progress have ended. */
  async close(): Promise<void> {
    this.closing.abort()
    await Promise.allSettled([...this.inFlight.values()])
  }

  /**
   * A whole pack is here once it has a tag: a failed copy can leave its repository with blobs
   * linked but no version, which must not count (the next pull tries again).
   */
  private async isHere(name: string, ref: string | null): Promise<boolean> {
    const repo = await this.packMeta.repoByName(name)
    if (!repo) return false
    return ref === null ? (await this.packMeta.tagCount(repo.id)) > 0 : (await this.packMeta.tag(repo.id, ref)) !== undefined
  }
}


/**
 * Which upstream tags a pull of `ref` needs: every version (a whole pack), the version itself, or
 * those a parent tag covers (same group, same major, and minor for `M.m.x`); null when it names
 * nothing that can be fetched (an alias, an invalid tag).
 */
export function wantedTags(ref: string | null): ((tag: string) => boolean) | null {
  if (ref === null) return () => true
  let group: string | null
  let label: string
  try {
    ;({ group, label } = parseTag(ref))
  } catch {
    return null
  }
  if (!isParentLabel(label)) return parseVersion(label) === null ? null : (tag) => tag === ref
  const parts = label.slice(0, -2).split('.').map(Number)
  return (tag) => {
    let t
    try {
      t = parseTag(tag)
    } catch {
      return false
    }
    const v = parseVersion(t.label)
    return t.group === group && v !== null && v.major === parts[0] && (parts.length < 2 || v.minor === parts[1])
  }
}
