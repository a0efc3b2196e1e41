// The one setting a running server takes from its config file without a restart:
// auth.access.writers, like the htpasswd file's users. The file is polled (a stat a second, as
// fs.watchFile does, which also sees a file replaced by an editor or a ConfigMap update), read
// again whole when it changes (the REGISTRY_* variables still override it), and only the
// writers are taken from it; a file that no longer loads leaves the writers as they were.

import { type Stats, unwatchFile, watchFile } from 'node:fs'
import { loadConfig } from './load.js'

const POLL_MS = 1000

export interface WritersWatch {
  /** The new list, the one it replaces. */
  onChange(writers: string[], previous: string[]): void
  /** The file no longer loads, or has no auth section: the writers stay as they were. */
  onProblem(message: string): void
}

/** Watches `file` until the returned function is called. */
export function watchWriters(file: string, writers: string[], env: NodeJS.ProcessEnv, watch: WritersWatch): () => void {
  let current = writers
  const listener = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return
    let next: string[]
    try {
      const auth = loadConfig({ file, env }).auth
      if (!auth) return watch.onProblem(`${file} has no auth section any more; auth.access.writers stays ${current.join(', ')} until a restart`)
      next = auth.writers
    } catch (err) {
      return watch.onProblem(`${file} no longer loads, so auth.access.writers stays ${current.join(', ')}: ${(err as Error).message}`)
    }
    if (next.length === current.length && next.every((w, i) => w === current[i])) return
    const previous = current
    current = next
    watch.onChange(next, previous)
  }
  watchFile(file, { interval: POLL_MS, persistent: false }, listener)
  return () => unwatchFile(file, listener)
}
