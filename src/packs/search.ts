// The pack browser's search rules, pure: what of a pack is searchable (its name, display name,
// addon type, description and annotations from pack.json, the start of its README), how a
// README becomes searchable text, and how what a person typed becomes an SQLite FTS5 query that
// can never be a syntax error: every word is quoted (so `"`, `*`, `-`, `(`, `NEAR`, `AND`,
// `col:` are only text) and searched as a word prefix, all words required; and the listing's
// filters as the database is asked them.

import type { PackFilterParams } from '../meta/browse.js'
import type { PackSearchRow } from '../meta/packs.js'

/** Bytes of a README kept for search: the start of a long README says what the pack does. */
export const README_SEARCH_BYTES = 32 * 1024

/** At most this many words of a query are searched (the query itself is at most 128 characters). */
const MAX_TERMS = 16

/** The searchable text of a README's bytes: the first README_SEARCH_BYTES, as UTF-8. */
export function readmeText(bytes: Buffer): string {
  // A cut through a multi-byte character decodes to U+FFFD, which the tokenizer skips.
  return bytes.subarray(0, README_SEARCH_BYTES).toString('utf8')
}

/**
 * The index row of a pack from its shown (latest-pushed) version. pack.json accepted with
 * warnings may hold any type anywhere: only strings are searched.
 */
export function searchDocument(name: string, displayName: string, packJson: string, readme: string): PackSearchRow {
  const pack = JSON.parse(packJson) as Record<string, unknown>
  const annotations = pack.annotations
  const texts = [pack.description, ...(annotations !== null && typeof annotations === 'object' && !Array.isArray(annotations) ? Object.values(annotations) : [])]
  return {
    name,
    displayName,
    addonType: [pack.addonType, pack.addonSubType].filter((v): v is string => typeof v === 'string').join(' '),
    description: texts.filter((v): v is string => typeof v === 'string').join('\n'),
    readme,
  }
}

/**
 * The FTS5 query for what was typed: each whitespace-separated word quoted (inner quotes
 * doubled) as a prefix, all of them required; words with no letter or digit are left out (the
 * tokenizer would find nothing in them). Null when nothing searchable is left.
 */
export function ftsQuery(typed: string): string | null {
  // Control characters (a NUL among them) are no text anyone searches for.
  const terms = typed
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/u)
    .filter((word) => /[\p{L}\p{N}]/u.test(word))
    .slice(0, MAX_TERMS)
  if (terms.length === 0) return null
  return terms.map((word) => `"${word.replace(/"/g, '""')}"*`).join(' ')
}

/** The listing's filters as a person sets them (the packs page's query). */
export interface PackFilterRequest {
  q?: string | undefined
  layer?: string | undefined
  cloud?: string | undefined
  addonType?: string | undefined
  group?: string | undefined
  warnings?: boolean | undefined
}

function blankToNull(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? ''
  return trimmed === '' ? null : trimmed
}

/**
 * The filters the database is asked: blank is no filter; the text is matched in names without
 * case, and as words (prefixes) in the full-text index; every filter set must hold.
 */
export function packFilter(request: PackFilterRequest): PackFilterParams {
  const q = blankToNull(request.q)
  return {
    q: q?.toLowerCase() ?? null,
    fts: q === null ? null : ftsQuery(q),
    layer: blankToNull(request.layer),
    cloud: blankToNull(request.cloud),
    addonType: blankToNull(request.addonType),
    group: blankToNull(request.group),
    warnings: request.warnings === true ? 1 : null,
  }
}
