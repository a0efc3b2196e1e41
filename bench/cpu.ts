// CPU time spent by server processes over a measured run, from /proc (Linux): for each process
// named and every process below it, user and system time (fields 14-15 of /proc/<pid>/stat)
// plus the time of its children that have exited and been waited for (fields 16-17), so a
// PostgreSQL backend that ends between two readings still counts, through the postmaster.
// Threads (Packyard's worker threads, nginx's) are in their process's figures. A reading is
// taken before and after a run; the difference is the run's CPU seconds.

import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerSecond: number | null = null

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return ticksPerSecond
}

interface ProcStat {
  ppid: number
  /** utime + stime + cutime + cstime, in clock ticks */
  ticks: number
}

/** null when the process is gone. */
function procStat(pid: number): ProcStat | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const field = (n: number) => Number(fields[n - 3])
  return { ppid: field(4), ticks: field(14) + field(15) + field(16) + field(17) }
}

/** The CPU seconds the processes `roots` and all their descendants have used so far. */
export function cpuSeconds(roots: readonly number[]): number {
  const all = new Map<number, ProcStat>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(Number(entry))
    if (stat) all.set(Number(entry), stat)
  }
  const inTree = new Set(roots.filter((pid) => all.has(pid)))
  // Parents before children is not guaranteed by pid order: repeat until nothing is added.
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, stat] of all) {
      if (!inTree.has(pid) && inTree.has(stat.ppid)) {
        inTree.add(pid)
        grew = true
      }
    }
  }
  let ticks = 0
  for (const pid of inTree) ticks += (all.get(pid) as ProcStat).ticks
  return ticks / clockTicks()
}

/** The parent of `pid` (a PostgreSQL backend's is the postmaster). */
export function parentOf(pid: number): number {
  const stat = procStat(pid)
  if (!stat) throw new Error(`process ${pid} is gone`)
  return stat.ppid
}
