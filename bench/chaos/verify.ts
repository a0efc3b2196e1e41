// Checks a registry against the ledger of acknowledged pushes, through its public API only:
// - lost: a tag that was acknowledged is missing, or points at neither its last acknowledged
//   archive nor one of the pushes still in flight after it;
// - dangling: a tag (version, alias or parent) whose archive, OCI manifest or manifest blobs
//   cannot be fetched, or a pack whose detail page cannot be served (it reads the stored
//   values.yaml, README.md, ... blobs);
// - corrupt: a fetched archive whose bytes do not hash to the digest the tag names;
// - wrong parent tags: the parent tags differ from what src/packs/parent-tags.ts computes from
//   the version tags (a missing, extra or misdirected `M.x` / `M.m.x`).
// After a check the ledger holds what the server holds, so the next round starts from there.
// Fetches are skipped for tags already proven intact at the same digest (the cache a category
// keeps between rounds; a new one re-fetches everything). A problem seen in several rounds is
// counted once.

import { createHash } from 'node:crypto'
import { computeParentTags } from '../../src/packs/parent-tags.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE } from '../oci-client.js'
import { type Endpoint, json, send } from '../http.js'
import type { Ledger } from './workload.js'
import { ANY_STATUS } from './workload.js'

/** What the checks of one category found, each problem once, each reported once through `detail`. */
export class Findings {
  lost = 0
  tagsChecked = 0
  readonly dangling = new Set<string>()
  readonly corrupt = new Set<string>()
  readonly wrongParents = new Set<string>()

  constructor(private readonly detail: (line: string) => void) {}

  note(kind: 'dangling' | 'corrupt' | 'wrongParents', text: string): void {
    if (this[kind].has(text)) return
    this[kind].add(text)
    this.detail(text)
  }

  noteLost(text: string): void {
    this.lost++
    this.detail(text)
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

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

async function get(ep: Endpoint, url: string, headers: Record<string, string> = {}) {
  return send(ep, { method: 'GET', url, headers, expect: ANY_STATUS })
}

/** A tag's archive over /v1 and its manifest and blobs over /v2; returns what is wrong, or null. */
async function checkTag(ep: Endpoint, name: string, t: TagView): Promise<{ problem: 'dangling' | 'corrupt'; text: string } | null> {
  const archive = await get(ep, `/v1/_packs/${name}/${t.tag}/archive`)
  if (archive.status !== 200) return { problem: 'dangling', text: `GET /v1/_packs/${name}/${t.tag}/archive answered ${archive.status}` }
  const actual = sha256(archive.body)
  if (actual !== t.digest) return { problem: 'corrupt', text: `${name}:${t.tag}: ${archive.body.length} bytes hashing to ${actual}, not ${t.digest}` }
  const repo = `${PACK_NAMESPACE}/${name}`
  const manifest = await get(ep, `/v2/${repo}/manifests/${t.tag}`, { accept: MANIFEST_ACCEPT })
  if (manifest.status !== 200) return { problem: 'dangling', text: `GET /v2/${repo}/manifests/${t.tag} answered ${manifest.status}` }
  const doc = json<{ config?: { digest: string }; layers?: Array<{ digest: string }> }>(manifest)
  for (const d of [doc.config, ...(doc.layers ?? [])]) {
    if (!d) continue
    const blob = await send(ep, { method: 'HEAD', url: `/v2/${repo}/blobs/${d.digest}`, expect: ANY_STATUS })
    if (blob.status !== 200) return { problem: 'dangling', text: `HEAD /v2/${repo}/blobs/${d.digest} (in the manifest of ${t.tag}) answered ${blob.status}` }
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

export async function verifyLedger(ep: Endpoint, ledger: Ledger, cache: IntactCache, findings: Findings): Promise<void> {
  for (const name of [...ledger.names].sort()) {
    const pack = await get(ep, `/v1/_packs/${name}`)
    const states = [...ledger.tags.values()].filter((s) => s.name === name)
    let tags: TagView[] = []
    if (pack.status === 200) tags = json<{ tags: TagView[] }>(pack).tags
    else if (pack.status !== 404) {
      findings.note('dangling', `GET /v1/_packs/${name} answered ${pack.status}: ${pack.body.toString('utf8', 0, 200)}`)
      // Still judge the tags, from the listing of this one pack.
      const listing = await get(ep, `/v1/_packs?name=${name}`)
      if (listing.status === 200) tags = json<{ packs: Array<{ name: string; tags: TagView[] }> }>(listing).packs.find((p) => p.name === name)?.tags ?? []
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
      findings.tagsChecked++
      const key = `${name}:${t.tag}`
      if (cache.get(key) === t.digest) continue
      const problem = await checkTag(ep, name, t)
      if (problem) {
        findings.note(problem.problem, problem.text)
        cache.delete(key)
      } else {
        cache.set(key, t.digest)
      }
    }
    if (pack.status === 200) for (const p of parentProblems(name, tags)) findings.note('wrongParents', p)
  }
}
