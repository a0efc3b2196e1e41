// A small least-recently-used map, for caches of things that never change under their key
// (what a digest names): rendered READMEs and highlighted files, archive listings; and for what
// a process may forget at any time at the cost of some work (an upload's running hash).

export class LruMap<K, V> {
  private readonly entries = new Map<K, V>()

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const found = this.entries.get(key)
    if (found !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, found)
    }
    return found
  }

  delete(key: K): boolean {
    return this.entries.delete(key)
  }

  set(key: K, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K)
  }
}
