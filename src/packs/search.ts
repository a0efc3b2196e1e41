// The pack browser's search rules, pure: what of a pack is searchable (its name, display name,
// addon type, description and annotations from pack.json, the start of its README), how a
// README becomes searchable text, and how what a person typed becomes a full-text query that
// can never be a syntax error, for SQLite's FTS5 and for PostgreSQL's tsquery alike: every word
// is quoted (so `"`, `*`, `-`, `(`, `NEAR`, `AND`, `col:`, `&`, `!` are only text) and searched as
// a word prefix, all words required; and the listing's filters as the database is asked them.

import type { PackFilterParams } from '../meta/browse.js'
import { type PackSearchRow, searchWords } from '../meta/packs.js'

/** Bytes of a README kept for search: the start of a long README says what the pack does. */
export const README_SEARCH_BYTES = 32 * 1024

/** At most this many words of a query are searched (the query itself is at most 128 characters). */
const MAX_TERMS = 16

/**
 * The searchable text of a README's bytes: the first README_SEARCH_BYTES, as UTF-8, a NUL made a
 * space (the tokenizer splits words at either; PostgreSQL's text cannot hold a NUL).
 */
export function readmeText(bytes: Buffer): string {
  // A cut through a multi-byte character decodes to U+FFFD, which the tokenizer skips.
  return bytes.subarray(0, README_SEARCH_BYTES).toString('utf8').replaceAll('\u0000', ' ')
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
  const terms = searchTerms(typed)
  if (terms.length === 0) return null
  return terms.map((word) => `"${word.replace(/"/g, '""')}"*`).join(' ')
}

/**
 * The same query for PostgreSQL's to_tsquery('simple', ...) over pack_search as it is stored
 * there (meta/packs.ts searchWords): each word split into the words FTS5 would split it into,
 * those a phrase (`<->`) whose last word is a prefix, as FTS5 reads `"foo-bar"*`; every word
 * required (`&`). The parts are only letters and digits, quoted, so nothing typed is an
 * operator. Null when nothing searchable is left.
 */
export function tsQuery(typed: string): string | null {
  const terms = searchTerms(typed).map((word) => searchWords(word).trim().split(' ').filter((part) => part !== ''))
  const phrases = terms.filter((parts) => parts.length > 0).map((parts) => `(${parts.map((part, i) => `'${part}'${i === parts.length - 1 ? ':*' : ''}`).join(' <-> ')})`)
  return phrases.length === 0 ? null : phrases.join(' & ')
}

/** The whitespace-separated words typed that hold a letter or digit, at most MAX_TERMS. */
function searchTerms(typed: string): string[] {
  // Control characters (a NUL among them) are no text anyone searches for.
  return typed
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/u)
    .filter((word) => /[\p{L}\p{N}]/u.test(word))
    .slice(0, MAX_TERMS)
}

/** Both engines' queries for what was typed; null when nothing searchable is left. */
function fullTextQuery(typed: string): PackFilterParams['fts'] {
  const sqlite = ftsQuery(typed)
  const postgres = tsQuery(typed)
  return sqlite === null || postgres === null ? null : { sqlite, postgres }
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

/**
 * A filter's text as the database is asked it. NUL is left out: no stored text holds one
 * (PostgreSQL's text cannot), so both engines answer the same without it.
 */
export function filterText(value: string | undefined): string | null {
  const trimmed = value?.replaceAll('\u0000', '').trim() ?? ''
  return trimmed === '' ? null : trimmed
}

/**
 * The filters the database is asked: blank is no filter; the text is matched in names without
 * case, and as words (prefixes) in the full-text index; every filter set must hold.
 */
export function packFilter(request: PackFilterRequest): PackFilterParams {
  const q = filterText(request.q)
  return {
    q: q?.toLowerCase() ?? null,
    fts: q === null ? null : fullTextQuery(q),
    layer: filterText(request.layer),
    cloud: filterText(request.cloud),
    addonType: filterText(request.addonType),
    group: filterText(request.group),
    warnings: request.warnings === true ? 1 : null,
  }
}
