// Checks a registry against the ledger of acknowledged pushes, through its public API only:
// - lost: a tag that was acknowledged is missing, or points at neither its last acknowledged
//   archive nor one of the pushes still in flight after it;
// - dangling: a tag (version, alias or parent) whose archive, OCI manifest or manifest blobs
//   cannot be fetched, or a pack whose detail page cannot be served (it reads the stored
//   values.yaml, README.md, ... blobs); counted once per archive, not per tag pointing at it;
// - corrupt: a fetched archive whose bytes do not hash to the digest the tag names (per archive);
// - wrong parent tags: the parent tags differ from what src/packs/parent-tags.ts computes from
//   the version tags (a missing, extra or misdirected `M.x` / `M.m.x`).
// After a check the ledger holds what the server holds, so the next round starts from there;
// checked on several replicas in turn (verifyOnEach), the second and third must then hold
// exactly what the first did, or the difference counts as lost.
// Fetches are skipped for tags already proven intact at the same digest (the cache a category
// keeps between rounds; a new one re-fetches everything). A problem seen in several rounds is
// counted once. Packs are checked several at a time.

import { computeParentTags } from '../../src/packs/parent-tags.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE } from '../oci-client.js'
import { forEachConcurrent } from '../pool.js'
import { describe, type Outcome, probe } from './probe.js'
import { authorization, type ChaosServer } from './server.js'
import type { Ledger } from './workload.js'

interface Found {
  lost: number
  dangling: Set<string>
  corrupt: Set<string>
  wrongParents: Set<string>
}

/** What the checks of one category found, each problem once, each reported once through `detail`. */
export class Findings {
  private readonly found: Found

  /** `where`: the server the lines are about, when several are checked (replicas); `shared`: see at(). */
  constructor(
    private readonly detail: (line: string) => void,
    private readonly where = '',
    shared?: Found,
  ) {
    this.found = shared ?? { lost: 0, dangling: new Set(), corrupt: new Set(), wrongParents: new Set() }
  }

  get lost(): number {
    return this.found.lost
  }

  get dangling(): ReadonlySet<string> {
    return this.found.dangling
  }

  get corrupt(): ReadonlySet<string> {
    return this.found.corrupt
  }

  get wrongParents(): ReadonlySet<string> {
    return this.found.wrongParents
  }

  /** The same findings, counted once whichever replica shows them, with lines naming `where`. */
  at(where: string): Findings {
    return new Findings(this.detail, where, this.found)
  }

  private say(text: string): void {
    this.detail(this.where ? `${this.where}: ${text}` : text)
  }

  /** Counts a problem once per `key` (default: its text), however many rounds or tags show it. */
  note(kind: 'dangling' | 'corrupt' | 'wrongParents', text: string, key = text): void {
    if (this.found[kind].has(key)) return
    this.found[kind].add(key)
    this.say(text)
  }

  noteLost(text: string): void {
    this.found.lost++
    this.say(text)
  }
}

interface TagView {
  tag: string
  kind: 'version' | 'alias' | 'parent'
  group: string | null
  label: string
  digest: string
}

/** Tags proven intact (name:tag → archive digest), carried between rounds. */
export type IntactCache = Map<string, string>

type Answered = Extract<Outcome, { kind: 'answered' }>

// Packs checked at once on one server: enough to keep it busy, few enough for a 2-core machine.
const PACKS_AT_ONCE = 8

/**
 * Fetches through probe.ts rather than a keep-alive client: a damaged blob can make the server
 * send more or fewer bytes than it announced, which must count against that blob only, and a
 * short body must be a hang of 10 s, not of a minute.
 */
class Fetcher {
  constructor(private readonly server: ChaosServer) {}

  async fetch(method: string, path: string, headers: Record<string, string> = {}): Promise<Answered | string> {
    const o = await probe(this.server.base, { method, path, headers: { authorization: authorization(this.server.spec.users.admin), ...headers }, keep: 64 << 20 })
    return o.kind === 'answered' ? o : `${method} ${path}: ${describe(o)}`
  }
}

/** A tag's archive over /v1 and its manifest and blobs over /v2; returns what is wrong, or null. */
async function checkTag(http: Fetcher, name: string, t: TagView): Promise<{ problem: 'dangling' | 'corrupt'; text: string } | null> {
  const archivePath = `/v1/_packs/${name}/${t.tag}/archive`
  const archive = await http.fetch('GET', archivePath)
  if (typeof archive === 'string') return { problem: 'corrupt', text: archive }
  if (archive.status !== 200) return { problem: 'dangling', text: `GET ${archivePath} answered ${describe(archive)}` }
  if (archive.digest !== t.digest) return { problem: 'corrupt', text: `${name}:${t.tag}: ${archive.bytes} bytes hashing to ${archive.digest}, not ${t.digest}` }
  const repo = `${PACK_NAMESPACE}/${name}`
  const manifest = await http.fetch('GET', `/v2/${repo}/manifests/${t.tag}`, { accept: MANIFEST_ACCEPT })
  if (typeof manifest === 'string') return { problem: 'dangling', text: manifest }
  if (manifest.status !== 200) return { problem: 'dangling', text: `GET /v2/${repo}/manifests/${t.tag} answered ${describe(manifest)}` }
  const doc = JSON.parse(manifest.body.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }> }
  for (const d of [doc.config, ...(doc.layers ?? [])]) {
    if (!d) continue
    const blob = await http.fetch('HEAD', `/v2/${repo}/blobs/${d.digest}`)
    if (typeof blob === 'string' || blob.status !== 200) {
      return { problem: 'dangling', text: `HEAD /v2/${repo}/blobs/${d.digest} (in the manifest of ${t.tag}): ${typeof blob === 'string' ? blob : describe(blob)}` }
    }
  }
  return null
}

function parentProblems(name: string, tags: TagView[]): string[] {
  const versions = tags.filter((t) => t.kind === 'version')
  // The writers never push two tags of the same version precedence, so write order (seq) cannot matter.
  const expected = computeParentTags(versions.map((t, seq) => ({ tag: t.tag, group: t.group, label: t.label, seq })))
  const digestOf = new Map(versions.map((t) => [t.tag, t.digest]))
  const actual = new Map(tags.filter((t) => t.kind === 'parent').map((t) => [t.tag, t.digest]))
  const problems: string[] = []
  for (const p of expected) {
    const got = actual.get(p.tag)
    if (got === undefined) problems.push(`${name}: parent tag ${p.tag} is missing (should point at ${p.target})`)
    else if (got !== digestOf.get(p.target)) problems.push(`${name}: parent tag ${p.tag} points at ${got}, not at ${p.target} (${digestOf.get(p.target)})`)
    actual.delete(p.tag)
  }
  for (const tag of actual.keys()) problems.push(`${name}: parent tag ${tag} should not exist`)
  return problems
}

export async function verifyLedger(server: ChaosServer, ledger: Ledger, cache: IntactCache, findings: Findings): Promise<void> {
  const http = new Fetcher(server)
  // Packs in parallel: each pack's tag states are its own, so the checks of two packs never meet.
  await forEachConcurrent([...ledger.names].sort(), PACKS_AT_ONCE, async (name) => {
    const pack = await http.fetch('GET', `/v1/_packs/${name}`)
    const states = [...ledger.tags.values()].filter((s) => s.name === name)
    let tags: TagView[] = []
    const found = typeof pack !== 'string' && pack.status === 200
    if (found) tags = (JSON.parse(pack.body.toString('utf8')) as { tags: TagView[] }).tags
    else if (typeof pack === 'string' || pack.status !== 404) {
      findings.note('dangling', typeof pack === 'string' ? pack : `GET /v1/_packs/${name} answered ${describe(pack)}`)
      // Still judge the tags, from the listing of this one pack.
      const listing = await http.fetch('GET', `/v1/_packs?name=${name}`)
      if (typeof listing !== 'string' && listing.status === 200) {
        tags = (JSON.parse(listing.body.toString('utf8')) as { packs: Array<{ name: string; tags: TagView[] }> }).packs.find((p) => p.name === name)?.tags ?? []
      }
    }
    const byTag = new Map(tags.map((t) => [t.tag, t]))
    for (const s of states) {
      const actual = byTag.get(s.tag)
      const allowed = new Set([...(s.acked ? [s.acked] : []), ...s.pending])
      if (actual && allowed.has(actual.digest)) {
        s.acked = actual.digest
      } else if (actual || s.acked !== null) {
        findings.noteLost(`${name}:${s.tag} (${s.surface}) should point at ${[...allowed].join(' or ') || 'nothing'}; it ${actual ? `points at ${actual.digest}` : 'is gone'}`)
        s.acked = actual?.digest ?? null
      }
      s.pending.clear()
    }
    for (const t of tags) {
      const key = `${name}:${t.tag}`
      if (cache.get(key) === t.digest) continue
      const problem = await checkTag(http, name, t)
      if (problem) {
        // Keyed by archive: a version tag and its parent tags pointing at one lost blob are one problem.
        findings.note(problem.problem, problem.text, `${name}@${t.digest}`)
        cache.delete(key)
      } else {
        cache.set(key, t.digest)
      }
    }
    if (found) for (const p of parentProblems(name, tags)) findings.note('wrongParents', p)
  })
}

/**
 * verifyLedger on every server (replicas of one registry), each fetching everything afresh: the
 * first settles the ledger to what it holds, then the others are checked against that at once
 * (a check changes the ledger only where a replica disagrees, which counts as lost either way).
 */
export async function verifyOnEach(servers: ChaosServer[], ledger: Ledger, findings: Findings): Promise<void> {
  const [first, ...others] = servers as [ChaosServer, ...ChaosServer[]]
  const each = (server: ChaosServer) => {
    const where = servers.length > 1 ? `replica ${servers.indexOf(server) + 1} (${server.base})` : ''
    return verifyLedger(server, ledger, new Map(), findings.at(where))
  }
  await each(first)
  await Promise.all(others.map(each))
}
