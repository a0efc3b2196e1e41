// Deterministic randomness for the bench. A small PRNG (mulberry32) makes the decisions (pack
// sizes, their order); an AES-128-CTR keystream makes the bulk bytes. The keystream is
// incompressible, like the compressed chart archives real packs carry, and runs at GB/s, so
// generating a 1 GB blob while uploading it never becomes what is measured. The same seed gives
// the same bytes on every machine, so every run pushes the same content.

import { createCipheriv, createHash } from 'node:crypto'
import { Readable } from 'node:stream'

/** mulberry32: 32 bits of state, good enough to spread sizes, and trivially reproducible. */
export class Prng {
  private state: number

  constructor(seed: string) {
    this.state = createHash('sha256').update(seed).digest().readUInt32LE(0)
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      ;[items[i], items[j]] = [items[j] as T, items[i] as T]
    }
    return items
  }
}

const CHUNK = 1 << 20

function keystream(seed: string) {
  const key = createHash('sha256').update(`bytes:${seed}`).digest().subarray(0, 16)
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
}

/** `size` pseudo-random bytes for `seed`, produced 1 MiB at a time and never held whole. */
export function randomStream(seed: string, size: number): Readable {
  const cipher = keystream(seed)
  const zeros = Buffer.alloc(CHUNK)
  let left = size
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (left === 0) {
        this.push(null)
        return
      }
      const n = Math.min(left, CHUNK)
      left -= n
      this.push(cipher.update(n === CHUNK ? zeros : zeros.subarray(0, n)))
    },
  })
}

/** The same bytes as randomStream(seed, size), in memory: only for small sizes. */
export function randomBytes(seed: string, size: number): Buffer {
  return keystream(seed).update(Buffer.alloc(size))
}

/** The sha256 digest of randomStream(seed, size), computed by generating it once. */
export async function randomStreamDigest(seed: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of randomStream(seed, size)) hash.update(chunk as Buffer)
  return `sha256:${hash.digest('hex')}`
}
