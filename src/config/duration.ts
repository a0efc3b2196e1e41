// Durations as the config and the command line write them: `90s`, `15m`, `24h`, `1h30m`,
// `500ms`. Kept apart from the config loader so a client command can parse a flag without
// loading YAML.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

export const DURATION_HINT = 'must be a duration such as 90s, 15m or 24h'

/** Milliseconds, or null when `text` is not a duration. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim()
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) return null
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNITS[p[2] as string] as number), 0)
}

/** A duration as parseDuration reads it back: `1h`, `1h30m`, `90s` → `1m30s`, `0s`. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms)
  let text = ''
  for (const [unit, size] of Object.entries(UNITS).reverse()) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`
      rest %= size
    }
  }
  return text === '' ? '0s' : text
}
