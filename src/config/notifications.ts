// notifications.endpoints: distribution's list of webhook receivers, checked entry by entry.
// A list of mappings does not fit the schema's leaves (one value per key), so its entries are
// read here with the same value rules (parseLeaf) and the same errors, naming the entry by its
// index and name: `notifications.endpoints[1] (ci).url: ...`.

import { ConfigError, parseLeaf } from './leaf.js'

export type NotificationAction = 'push' | 'pull' | 'delete' | 'mount'
export const NOTIFICATION_ACTIONS: readonly NotificationAction[] = ['push', 'pull', 'delete', 'mount']

export interface NotificationEndpoint {
  name: string
  url: string
  headers: Record<string, string[]>
  timeoutMs: number
  /** Consecutive failed deliveries after which the endpoint is logged and shown as failing. */
  threshold: number
  /** The first retry's wait; each further failure doubles it, up to MAX_BACKOFF_MS. */
  backoffMs: number
  /** ignoredmediatypes and ignore.mediatypes together: events whose target has one are not sent. */
  ignoredMediaTypes: string[]
  ignoredActions: NotificationAction[]
  disabled: boolean
  format: 'distribution' | 'cloudevents'
}

/** distribution's defaults for an endpoint that leaves them out. */
export const ENDPOINT_DEFAULTS = { timeoutMs: 1000, threshold: 10, backoffMs: 1000 } as const

/**
 * The longest timeout an endpoint may set: a timer past 2^31-1 ms would fire at once, and a
 * receiver silent for an hour is down anyway.
 */
export const MAX_TIMEOUT_MS = 3600_000

/** The longest wait between two attempts, whatever the backoff doubled to. */
export const MAX_BACKOFF_MS = 5 * 60_000

const KEYS = ['name', 'url', 'headers', 'timeout', 'threshold', 'backoff', 'ignoredmediatypes', 'ignore', 'disabled', 'format']

export function parseEndpoints(key: string, value: unknown): NotificationEndpoint[] {
  if (value === null || value === undefined || value === '') return []
  if (!Array.isArray(value)) throw new ConfigError(key, `must be a list of endpoints, each with a name and a url (got ${JSON.stringify(value)})`)
  const endpoints = value.map((entry, i) => parseEndpoint(`${key}[${i}]`, entry))
  const seen = new Set<string>()
  endpoints.forEach((e, i) => {
    if (seen.has(e.name)) throw new ConfigError(`${key}[${i}].name`, `${JSON.stringify(e.name)} names two endpoints; each needs its own name`)
    seen.add(e.name)
  })
  return endpoints
}

function parseEndpoint(at: string, entry: unknown): NotificationEndpoint {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(at, `must be a mapping with name and url (got ${JSON.stringify(entry)})`)
  const doc = entry as Record<string, unknown>
  const name = parseLeaf(`${at}.name`, { kind: 'string', nonEmpty: true }, doc.name ?? '') as string
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new ConfigError(`${at}.name`, `must be letters, digits and . _ - (it names the endpoint in metrics and commands; got ${JSON.stringify(name)})`)
  const here = `${at} (${name})`
  for (const k of Object.keys(doc)) {
    if (!KEYS.includes(k)) throw new ConfigError(`${here}.${k}`, `unknown key (known keys here: ${KEYS.join(', ')})`)
  }
  const url = parseLeaf(`${here}.url`, { kind: 'string', nonEmpty: true }, doc.url ?? '') as string
  let parsed: URL | null = null
  try {
    parsed = new URL(url)
  } catch {
    parsed = null
  }
  if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError(`${here}.url`, `must be an http:// or https:// URL such as https://ci.example.com/hooks/registry (got ${JSON.stringify(url)})`)
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(`${here}.url`, 'must not carry a user or password; send credentials in headers (Authorization: [Basic ...] or [Bearer ...])')
  }
  const opt = <T>(k: string, type: Parameters<typeof parseLeaf>[1], def: T): T => (doc[k] === undefined || doc[k] === null ? def : (parseLeaf(`${here}.${k}`, type, doc[k]) as T))
  const ignore = doc.ignore ?? {}
  if (typeof ignore !== 'object' || ignore === null || Array.isArray(ignore)) throw new ConfigError(`${here}.ignore`, 'must be a mapping with mediatypes and actions')
  for (const k of Object.keys(ignore)) {
    if (k !== 'mediatypes' && k !== 'actions') throw new ConfigError(`${here}.ignore.${k}`, 'unknown key (known keys here: mediatypes, actions)')
  }
  const ig = ignore as Record<string, unknown>
  const ignoredActions = ig.actions === undefined || ig.actions === null ? [] : (parseLeaf(`${here}.ignore.actions`, { kind: 'strings' }, ig.actions) as string[])
  for (const a of ignoredActions) {
    if (!NOTIFICATION_ACTIONS.includes(a as NotificationAction)) throw new ConfigError(`${here}.ignore.actions`, `${JSON.stringify(a)} is not an action; the actions are ${NOTIFICATION_ACTIONS.join(', ')}`)
  }
  const ignoredMediaTypes = [
    ...opt<string[]>('ignoredmediatypes', { kind: 'strings' }, []),
    ...(ig.mediatypes === undefined || ig.mediatypes === null ? [] : (parseLeaf(`${here}.ignore.mediatypes`, { kind: 'strings' }, ig.mediatypes) as string[])),
  ]
  const timeoutMs = opt('timeout', { kind: 'duration' }, ENDPOINT_DEFAULTS.timeoutMs)
  if (timeoutMs <= 0) throw new ConfigError(`${here}.timeout`, 'must be longer than 0s (a receiver that never answers would hold the endpoint forever)')
  if (timeoutMs > MAX_TIMEOUT_MS) throw new ConfigError(`${here}.timeout`, `must be at most 1h (got ${timeoutMs} ms); a receiver that has not answered in an hour is down`)
  const backoffMs = opt('backoff', { kind: 'duration' }, ENDPOINT_DEFAULTS.backoffMs)
  if (backoffMs <= 0) throw new ConfigError(`${here}.backoff`, 'must be longer than 0s (retrying at once would hammer a failing receiver)')
  return {
    name,
    url,
    headers: opt('headers', { kind: 'headers' }, {}),
    timeoutMs,
    threshold: opt('threshold', { kind: 'int', min: 1, max: 1_000_000 }, ENDPOINT_DEFAULTS.threshold),
    backoffMs,
    ignoredMediaTypes: [...new Set(ignoredMediaTypes)],
    ignoredActions: [...new Set(ignoredActions)] as NotificationAction[],
    disabled: opt('disabled', { kind: 'bool' }, false),
    format: opt('format', { kind: 'enum', values: ['distribution', 'cloudevents'] }, 'distribution'),
  }
}
