// Types for the part of autocannon's programmatic API the bench uses (the package ships none,
// and only autocannon itself is a dev dependency of the bench).

declare module 'autocannon' {
  function autocannon(options: autocannon.Options): autocannon.Instance

  namespace autocannon {
    interface Histogram {
      average: number
      p50: number
      p99: number
      total: number
    }

    interface Options {
      url: string
      connections: number
      duration?: number
      /** ms between samples; a stop() takes effect at the next one */
      sampleInt?: number
      amount?: number
      headers?: Record<string, string>
      method?: string
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      '2xx': number
      statusCodeStats: Record<string, { count: number }>
      latency: Histogram
      requests: Histogram
      throughput: Histogram
    }

    /** the running load (an EventEmitter with then and catch): awaitable for its result, stoppable before its duration is over */
    interface Instance extends PromiseLike<Result> {
      catch(onRejected: (reason: unknown) => unknown): PromiseLike<unknown>
      stop(): void
    }
  }

  export = autocannon
}
