// Flushes dirty pages to disk before a timed transfer. A registry that has just written a
// gigabyte leaves the kernel writing it back for seconds afterwards; without this, whoever
// runs next in a round pays for the previous one's writeback. Both registries start every
// timed transfer from the same clean state instead.

import { execFileSync } from 'node:child_process'

export function settleDisk(): void {
  execFileSync('sync')
}
