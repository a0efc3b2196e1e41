// The pack work the registry does by itself at start-up, before it serves: what migrations left
// to the code (0009: tag lines and parent-tag targets; 0012: README text for search), and the
// stored headers and search rows of packs written before those were stored. It changes packs
// through the same rules as every write (pack-writes.ts).

import { buffer } from 'node:stream/consumers'
import type { PackMeta } from '../meta/packs.js'
import type { PendingTasks } from '../meta/tasks.js'
import type { BlobStore } from '../store/types.js'
import { type PackWrites, TagChanges } from './pack-writes.js'
import { README_SEARCH_BYTES, readmeText } from './search.js'
import { parseVersion } from './versions.js'

export class PackStartUpWork {
  constructor(
    private readonly store: BlobStore,
    private readonly meta: PackMeta,
    private readonly writes: PackWrites,
  ) {}

  /**
   * At start-up, migration 0012's work: the searchable start of the README of every version
   * pushed before it (read from the blob store, README_SEARCH_BYTES of it), then a search row
   * for every pack without one. READMEs land with their packs' rows, a batch per transaction
   * (one fsync per batch, not per version), so a crash leaves only what is still to do. A README
   * the store cannot read is searched as empty (fsck reports the missing blob) and counted.
   */
  async indexForSearch(): Promise<{ readmes: number; unreadable: number; packs: number }> {
    let unreadable = 0
    const reindexed = new Set<number>()
    const pending = await this.meta.readmesToRead()
    for (let start = 0; start < pending.length; start += README_BATCH) {
      const batch: Array<{ manifestId: number; repoId: number; text: string }> = []
      for (const version of pending.slice(start, start + README_BATCH)) {
        let text = ''
        try {
          const range = version.size > README_SEARCH_BYTES ? { start: 0, end: README_SEARCH_BYTES - 1 } : undefined
          text = readmeText(await buffer(await this.store.open(version.digest, range)))
        } catch {
          unreadable++
        }
        batch.push({ manifestId: version.manifest_id, repoId: version.repository_id, text })
      }
      await this.meta.transaction(async () => {
        for (const { manifestId, text } of batch) await this.meta.saveReadme(manifestId, text)
        for (const repoId of new Set(batch.map((b) => b.repoId))) {
          await this.writes.reindex(repoId)
          reindexed.add(repoId)
        }
      })
    }
    await this.meta.transaction(async () => {
      for (const repoId of await this.meta.reposWithoutSearch()) {
        await this.writes.reindex(repoId)
        reindexed.add(repoId)
      }
    })
    return { readmes: pending.length, unreadable, packs: reindexed.size }
  }

  /**
   * At start-up: the work migrations left to the code (see migrations/0009), then the headers
   * of packs written before headers were stored.
   */
  async runPendingWork(tasks: PendingTasks): Promise<{ headers: number; parentTagsMoved: number }> {
    let parentTagsMoved = 0
    if ((await tasks.pending()).includes(TAG_LINES_TASK)) {
      parentTagsMoved = await this.meta.transaction(async () => {
        const moved = await this.fillTagLines()
        await tasks.finish(TAG_LINES_TASK)
        return moved
      })
    }
    const headers = await this.meta.transaction(async () => {
      const missing = await this.meta.reposWithoutHeader()
      for (const repoId of missing) await this.writes.relist(repoId)
      return missing.length
    })
    return { headers, parentTagsMoved }
  }

  /**
   * Migration 0009's work: every version and parent tag gets its line, every parent tag its
   * target, under the rule that pre-releases never take a parent tag from a release; each
   * parent tag that now points elsewhere is recorded in the event log. Returns how many moved.
   */
  private async fillTagLines(): Promise<number> {
    let moved = 0
    const now = Date.now()
    for (const repoId of await this.meta.packRepoIds()) {
      const repo = await this.meta.repoName(repoId)
      const changes = new TagChanges()
      for (const t of await this.meta.tagPage(repoId, '', Number.MAX_SAFE_INTEGER)) {
        const version = t.kind === 'alias' ? null : parseVersion(t.kind === 'parent' ? t.label.slice(0, t.label.indexOf('.')) : t.label)
        const line = version ? String(version.major) : null
        await this.meta.setLine(t.id, line)
        if (line !== null) changes.line(t.group_name, line)
        changes.views.add(t.name)
      }
      await this.writes.settle(repoId, changes, now, async (parent, target) => {
        moved++
        await this.meta.appendEvent({
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'update',
          repository: repo,
          tag: parent.name,
          oldDigest: parent.archive_digest ?? parent.manifest_digest,
          newDigest: target.archive_digest ?? target.manifest_digest,
          forced: false,
          message: 'parent tags no longer move from a release to a pre-release (migration 0009)',
        })
      })
    }
    return moved
  }
}

/** READMEs read from the blob store per transaction at start-up (migration 0012's work). */
const README_BATCH = 200
/** The actor of changes the registry makes by itself (a migration's). */
const SYSTEM_ACTOR = 'packyard'
/** migrations/0009's work: lines, targets and views of existing tags, parent tags recomputed. */
const TAG_LINES_TASK = 'tag-lines'
