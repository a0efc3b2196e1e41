// Runs async work over a list with a fixed number of workers: the "N concurrent clients" of
// the push scenarios and the parallel seeding. The first failure stops the workers from taking
// more items and is rethrown once they have drained, so no request is left running behind it.

export async function forEachConcurrent<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { error: unknown } | null = null
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const index = next++
      try {
        await fn(items[index] as T, index)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  if (failure !== null) throw (failure as { error: unknown }).error
}
