// Cleans up after a server a test started (PostgreSQL, nginx, s3rver, Packyard replicas) when
// the process that owns it dies without stopping it: killed by tap's timeout, by Ctrl-C, or by
// SIGKILL, where no exit handler or teardown runs. A detached shell polls the owner; once it is
// gone, it signals the process named in the server's pid file, waits for it to exit, and removes the server's directory. A
// server stopped the normal way has no pid file left, so the watchdog then only removes what the
// owner already removed.

import { spawn } from 'node:child_process'

const SCRIPT = `
owner=$1 pidfile=$2 signal=$3 dir=$4
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  if kill -"$signal" "$pid" 2>/dev/null; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
fi
rm -rf "$dir"
`

export interface Watch {
  /** The process whose end means nobody will stop the server any more. */
  owner: number
  /** The server's pid file; its first line is the pid to signal. */
  pidFile: string
  /** The signal that stops the server at once (PostgreSQL: QUIT, nginx and s3rver: TERM, Packyard: KILL). */
  signal: 'QUIT' | 'TERM' | 'KILL'
  /** Removed once the server is gone. */
  dir: string
}

export function watchOwner(watch: Watch): void {
  const child = spawn('sh', ['-c', SCRIPT, 'packyard-test-watchdog', String(watch.owner), watch.pidFile, watch.signal, watch.dir], {
    detached: true,
    stdio: 'ignore',
  })
  child.unref()
}
