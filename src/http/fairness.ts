// Reads must not starve writes. Node handles every request on one thread: 32 clients polling a
// manifest keep that thread busy answering them, and the chunks of a push being uploaded wait
// behind them (the bench's mixed scenario, `push-share`). So while any write is in flight (a
// request that is not GET, HEAD or OPTIONS), reads are held to READS_WHILE_WRITING at once and to
// READ_SHARE_WHILE_WRITING of the time (the time any read holds a turn, per window of READ_WINDOW_MS);
// the others wait their turn in arrival order, handed on from the event loop's check phase
// (setImmediate), after the pending socket I/O of the writes has been read, or at the next
// window. With no write in flight, reads never wait.
//
// A read's turn ends when its answer is ready to send (onSend: streaming a blob's bytes is I/O
// and needs no turn) or its client goes away. A write ends when its response closes. Health
// checks, metrics scrapes, HEADs (a push asks which blobs exist) and the GETs of an upload
// session (part of a push) never wait.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Reads handled at once while a write is in flight: enough to keep reads flowing, few enough for the writes' I/O to be read between them. */
export const READS_WHILE_WRITING = 4
/**
 * While a write is in flight, reads may take this share of each window: the time during which
 * at least one read had its turn and had not yet answered. Past it, reads wait for the next
 * window, and the writes (and the clients sending them, often on the same machine) have the CPU.
 */
export const READ_SHARE_WHILE_WRITING = 0.3
export const READ_WINDOW_MS = 20

/** Who may start now and who waits: the counting behind the hooks, without Fastify. */
export class ReadWriteTurns {
  private writes = 0
  private reads = 0
  private readonly waiting: Array<() => void> = []
  private draining = false
  private windowStart = 0
  /** ms of the current window during which reads had turns, up to readsSince */
  private readTime = 0
  /** when the reads in flight began to hold turns without a pause (or to be counted in this window) */
  private readsSince = 0

  constructor(
    private readonly readsWhileWriting = READS_WHILE_WRITING,
    private readonly readShare = READ_SHARE_WHILE_WRITING,
    private readonly windowMs = READ_WINDOW_MS,
  ) {}

  /** A write started; it never waits. The returned function ends it (once). */
  startWrite(): () => void {
    this.writes++
    return once(() => {
      this.writes--
      this.drainSoon()
    })
  }

  /**
   * A read asks for a turn: `null` when it may start now, otherwise a promise of its turn.
   * Either way `end` must be called when the read is done or abandoned (calls after the first do nothing).
   */
  startRead(): { turn: Promise<void> | null; end: () => void } {
    let granted = false
    let abandoned = false
    const grant = (): void => {
      granted = true
      if (this.reads++ === 0) this.readsSince = performance.now()
    }
    const end = once(() => {
      if (granted) {
        if (--this.reads === 0 && this.writes > 0) this.readTime += performance.now() - Math.max(this.readsSince, this.windowStart)
        this.drainSoon()
      } else {
        abandoned = true
      }
    })
    if (this.mayStart()) {
      grant()
      return { turn: null, end }
    }
    const turn = new Promise<void>((resolve) => {
      this.waiting.push(() => {
        if (abandoned) return resolve()
        grant()
        resolve()
      })
    })
    this.drainSoon()
    return { turn, end }
  }

  /** What is in flight and waiting now. */
  get inFlight(): { reads: number; writes: number; waiting: number } {
    return { reads: this.reads, writes: this.writes, waiting: this.waiting.length }
  }

  private mayStart(): boolean {
    return this.writes === 0 || (this.reads < this.readsWhileWriting && this.budgetLeft() > 0)
  }

  /** ms the reads may still take in the current window; a new window starts once one has passed. */
  private budgetLeft(): number {
    const now = performance.now()
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now
      this.readTime = 0
    }
    const ongoing = this.reads > 0 ? now - Math.max(this.readsSince, this.windowStart) : 0
    return this.windowMs * this.readShare - this.readTime - ongoing
  }

  private drainSoon(): void {
    if (this.draining || this.waiting.length === 0) return
    this.draining = true
    const drain = (): void => {
      this.draining = false
      while (this.waiting.length > 0 && this.mayStart()) this.waiting.shift()?.()
      // Reads wait for a turn that no end will free: the budget's next window.
      if (this.waiting.length > 0 && this.reads === 0) {
        this.draining = true
        setTimeout(drain, Math.max(1, this.windowStart + this.windowMs - performance.now()))
      }
    }
    setImmediate(drain)
  }
}

function once(fn: () => void): () => void {
  let called = false
  return () => {
    if (called) return
    called = true
    fn()
  }
}

const UPLOAD_SESSION = /\/blobs\/uploads\//

function neverWaits(request: FastifyRequest): boolean {
  if (request.method === 'HEAD') return true
  const url = request.url
  return url === '/health' || url.startsWith('/health?') || url === '/metrics' || url.startsWith('/metrics?') || UPLOAD_SESSION.test(url)
}

const END_OF_READ = Symbol('endOfRead')
type WithEnd = FastifyRequest & { [END_OF_READ]?: () => void }

/** Installs the turns on every route of `app`; call it before any other onRequest hook so a waiting read has done no work yet. */
export function shareLoopWithWrites(app: FastifyInstance, turns = new ReadWriteTurns()): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // OPTIONS (a browser's preflight) is neither: it carries no body and is answered at once.
    if (request.method === 'OPTIONS') return
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply.raw.once('close', turns.startWrite())
      return
    }
    if (neverWaits(request)) return
    const { turn, end } = turns.startRead()
    ;(request as WithEnd)[END_OF_READ] = end
    reply.raw.once('close', end)
    if (turn) {
      await turn
      // The client left while it waited: nothing to answer. Its socket may still be half open
      // (the client's end read, ours not), which would hold up a graceful close: end it.
      if (request.raw.destroyed || reply.raw.destroyed) {
        reply.hijack()
        reply.raw.destroy()
      }
    }
  })
  app.addHook('onSend', async (request: FastifyRequest) => {
    ;(request as WithEnd)[END_OF_READ]?.()
  })
}
