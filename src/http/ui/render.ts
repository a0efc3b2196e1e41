// Author-supplied text made safe to show: README.md through markdown-it with raw HTML off (tags
// in it are shown as text), links only with the schemes markdown-it allows and rel=nofollow,
// images turned into links (the pages' CSP loads images from the registry only), table
// alignment as classes (the CSP allows no inline style), headings below the page's; YAML and JSON highlighted by
// highlight.js, which escapes what it does not mark up. Each result is cached under the
// digest of the blob it came from, since a blob never changes. Plus the formatting helpers
// the templates use.

import MarkdownIt from 'markdown-it'
import { LruMap } from '../../lru.js'

export type HighlightLanguage = 'yaml' | 'json' | 'bash'

/**
 * The part of highlight.js used here. Its own declarations reference the DOM library (for its
 * browser API), which would change Node's global types for the whole program, so its modules
 * are loaded with require() and typed by this.
 */
interface Highlighter {
  newInstance(): Highlighter
  registerLanguage(name: string, language: unknown): void
  highlight(code: string, options: { language: string; ignoreIllegals: boolean }): { value: string }
}

const highlighter = (require('highlight.js/lib/core') as Highlighter).newInstance()
for (const language of ['yaml', 'json', 'bash'] as const) highlighter.registerLanguage(language, require(`highlight.js/lib/languages/${language}`))
const FENCE_LANGUAGES: Record<string, HighlightLanguage> = { yaml: 'yaml', yml: 'yaml', json: 'json', bash: 'bash', sh: 'bash', shell: 'bash', console: 'bash' }

const FILE_LANGUAGES: Record<string, HighlightLanguage> = { yaml: 'yaml', yml: 'yaml', json: 'json', sh: 'bash', bash: 'bash' }

/** The language a file of a pack is highlighted as, by its name (Helm templates are YAML); null for plain text. */
export function languageOf(fileName: string): HighlightLanguage | null {
  const dot = fileName.lastIndexOf('.')
  return dot === -1 ? null : (FILE_LANGUAGES[fileName.slice(dot + 1).toLowerCase()] ?? null)
}

/** Above this, text is shown escaped but not highlighted (highlighting is linear but not free). */
const MAX_HIGHLIGHTED_CHARS = 256 * 1024

const markdown = new MarkdownIt({
  html: false,
  linkify: true,
  typographer: false,
  highlight: (code, lang) => {
    const language = FENCE_LANGUAGES[lang.toLowerCase()]
    return language ? highlight(code, language) : ''
  },
})

markdown.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  ;(tokens[idx] as (typeof tokens)[number]).attrSet('rel', 'nofollow noopener noreferrer')
  return self.renderToken(tokens, idx, options)
}

markdown.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx] as (typeof tokens)[number]
  const src = String(token.attrGet('src') ?? '')
  const alt = token.content || src
  return `<a class="image-link" href="${escapeHtml(src)}" rel="nofollow noopener noreferrer">${escapeHtml(`image: ${alt}`)}</a>`
}

// The README sits under the page's own headings (h1 the pack, h3 "README"): its headings move
// down three levels, so a README's h1 is the page's h4.
for (const rule of ['heading_open', 'heading_close'] as const) {
  markdown.renderer.rules[rule] = (tokens, idx, options, _env, self) => {
    const token = tokens[idx] as (typeof tokens)[number]
    token.tag = `h${Math.min(6, Number(token.tag.slice(1)) + 3)}`
    return self.renderToken(tokens, idx, options)
  }
}

for (const cell of ['th_open', 'td_open'] as const) {
  markdown.renderer.rules[cell] = (tokens, idx, options, _env, self) => {
    const token = tokens[idx] as (typeof tokens)[number]
    const align = /text-align:(left|right|center)/.exec(String(token.attrGet('style') ?? ''))?.[1]
    token.attrs = align ? [['class', `align-${align}`]] : null
    return self.renderToken(tokens, idx, options)
  }
}

export function escapeHtml(text: string): string {
  return markdown.utils.escapeHtml(text)
}

export function highlight(text: string, language: HighlightLanguage): string {
  if (text.length > MAX_HIGHLIGHTED_CHARS) return escapeHtml(text)
  return highlighter.highlight(text, { language, ignoreIllegals: true }).value
}

const rendered = new LruMap<string, string>(256)

function cached(key: string, render: () => string): string {
  const hit = rendered.get(key)
  if (hit !== undefined) return hit
  const html = render()
  rendered.set(key, html)
  return html
}

/** README.md as HTML; `digest` names the content (the cache key). */
export function renderMarkdown(text: string, digest: string): string {
  return cached(`md:${digest}:${text.length}`, () => markdown.render(text))
}

/** A highlighted file; `digest` names the content (the cache key). */
export function renderHighlighted(text: string, language: HighlightLanguage, digest: string): string {
  return cached(`${language}:${digest}:${text.length}`, () => highlight(text, language))
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** Formatting for the templates. */
export const format = {
  bytes(n: number): string {
    let value = n
    let unit = 0
    while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
      value /= 1024
      unit++
    }
    return unit === 0 ? `${n} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${BYTE_UNITS[unit]}`
  },
  count(n: number): string {
    return n.toLocaleString('en-US')
  },
  /** `2026-11-23 06:00 UTC`; the page's script shows it in the reader's time zone. */
  date(iso: string): string {
    return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
  },
  /** `sha256:0123456789ab`, for tables; the full digest is in the title and the copy text. */
  shortDigest(digest: string): string {
    const at = digest.indexOf(':')
    return at === -1 ? digest.slice(0, 12) : digest.slice(0, at + 13)
  },
  plural(n: number, one: string, many = `${one}s`): string {
    return `${format.count(n)} ${n === 1 ? one : many}`
  },
}
