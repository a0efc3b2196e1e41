// Types for the part of autocannon's programmatic API the bench uses (the package ships none,
// and only autocannon itself is a dev dependency of the bench).

declare module 'autocannon' {
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

  function autocannon(options: Options): Promise<Result>
  export = autocannon
}
