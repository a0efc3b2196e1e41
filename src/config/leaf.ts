// One config value checked against its type (strings, numbers, durations, sizes, lists,
// headers...), and the error that names the key: for load.ts and for the sections of entries
// (sync upstreams, notification endpoints) that check each entry's keys the same way.

import { DURATION_HINT, parseDuration } from './duration.js'
import type { LeafType } from './schema.js'

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    /** What is wrong with the value, without the key: for a command-line flag checked by the same rule. */
    readonly reason: string,
  ) {
    super(`config: ${key}: ${reason}`)
    this.name = 'ConfigError'
  }
}

/** The leaf types parseLeaf reads; the sections of entries have their own parsers. */
export type ScalarLeafType = Exclude<LeafType, { kind: 'syncregistries' } | { kind: 'endpoints' }>

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, k: 1024, m: 1024 ** 2, g: 1024 ** 3,
}

/** A positive number of bytes, or one with a unit (512MiB, 2GB); null when it is neither. */
function parseSize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : null
  const m = typeof value === 'string' ? /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(value) : null
  const unit = m ? SIZE_UNITS[(m[2] as string).toLowerCase() || 'b'] : undefined
  return !m || unit === undefined || Number(m[1]) <= 0 ? null : Number(m[1]) * unit
}

export function parseLeaf(key: string, type: ScalarLeafType, value: unknown): unknown {
  const bad = (what: string): never => {
    throw new ConfigError(key, `${what} (got ${JSON.stringify(value)})`)
  }
  switch (type.kind) {
    case 'string':
      if (typeof value === 'number') value = String(value)
      if (typeof value !== 'string') return bad('must be a string')
      if (type.nonEmpty && value.trim() === '') return bad('must not be empty')
      return value
    case 'int': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value
      if (typeof n !== 'number' || !Number.isInteger(n)) return bad('must be a whole number')
      if (n < type.min || n > type.max) return bad(`must be between ${type.min} and ${type.max}`)
      return n
    }
    case 'bool':
      if (typeof value === 'boolean') return value
      if (value === 'true') return true
      if (value === 'false') return false
      return bad('must be true or false')
    case 'enum':
      if (typeof value !== 'string' || !type.values.includes(value)) return bad(`must be one of ${type.values.join(', ')}`)
      return value
    case 'duration': {
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000
      const ms = typeof value === 'string' ? parseDuration(value) : null
      return ms === null ? bad(DURATION_HINT) : ms
    }
    case 'size': {
      const bytes = parseSize(value)
      if (bytes === null) return bad('must be a size in bytes, or with a unit such as 512MiB or 2GB')
      if (type.max !== undefined && bytes > type.max) return bad(`must be at most ${type.max / 1024 ** 2}MiB (${type.max} bytes)`)
      return bytes
    }
    case 'strings':
      if (typeof value === 'string') return [value]
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return bad('must be a list of strings')
      return value
    case 'stringmap': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('must be a mapping of names to strings')
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return bad(`${k} must be a string`)
        out[k] = String(v)
      }
      return out
    }
    case 'headers': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('must be a mapping of header names to lists of values')
      const out: Record<string, string[]> = {}
      for (const [k, v] of Object.entries(value)) {
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) return bad(`${k} is not a valid header name`)
        const list = Array.isArray(v) ? v : [v]
        if (!list.every((x) => typeof x === 'string' && !/[\r\n]/.test(x))) return bad(`${k} must be a string or list of strings`)
        out[k] = list as string[]
      }
      return out
    }
    case 'ignored':
    case 'unsupported':
      return undefined
  }
}
