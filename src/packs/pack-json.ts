// A pack's validation, the one used by the server (every surface) and by the CLI before it
// uploads: pack.json parsed and checked against Spectro Cloud's published pack schema (extra
// keys allowed, as real packs carry them), and the files it names looked up in the pack.
//
// Problems fall in two columns. Errors are what the registry cannot store or serve correctly:
// no or unparsable pack.json, a missing or malformed name or version (they make the tag), a
// group that cannot be part of a tag. Warnings are everything the stock registry serves anyway
// (files named in charts/kubeManifests that are missing, incomplete dependency or resource
// entries, an unknown layer or cloud type, no values.yaml or logo, YAML files that do not parse
// (yaml-check.ts), a version that is not semantic and so gets no parent tags...). Every problem is reported at once, in a fixed
// order; strict validation turns warnings into errors.

import { RegistryError } from '../errors.js'
import { packNameProblem } from './names.js'
import { normalizeGroup, versionTagFor } from './tags.js'
import { parseVersion } from './versions.js'
import { isJsonObject, type JsonObject } from '../json.js'

export const LAYERS = ['kernel', 'os', 'k8s', 'cni', 'csi', 'addon'] as const
export type Layer = (typeof LAYERS)[number]

export const CLOUD_TYPES = [
  'all',
  'aws',
  'azure',
  'gcp',
  'vsphere',
  'openstack',
  'baremetal',
  'maas',
  'aks',
  'eks',
  'tke',
  'edge',
  'libvirt',
  'edge-native',
  'coxedge',
  'tencent',
  'custom',
] as const

const DEPENDENCY_TYPES = ['required', 'optional', 'notSupported', 'upgrade'] as const
const RESOURCE_TYPES = ['cpu', 'memory', 'diskSize'] as const
const SCHEDULE_TYPES = ['all', 'master', 'worker'] as const

export interface PackDependency {
  packName: string
  layer: Layer
  minVersion?: string
  maxVersion?: string
  type: (typeof DEPENDENCY_TYPES)[number]
  [extra: string]: unknown
}

export interface PackResourceComponent {
  scheduleType: (typeof SCHEDULE_TYPES)[number]
  resourceRequestParamRef?: string
  replicaCountParamRef?: string
  [extra: string]: unknown
}

export interface PackResource {
  type: (typeof RESOURCE_TYPES)[number]
  minLimit?: number
  components?: PackResourceComponent[]
  [extra: string]: unknown
}

export interface PackConstraints {
  dependencies?: PackDependency[]
  resources?: PackResource[]
  [extra: string]: unknown
}

/**
 * pack.json as pushed. Only `name` and `version` are guaranteed (they are errors when wrong);
 * the other fields are what the schema says when the pack has no warnings about them.
 */
export interface PackJson {
  name: string
  version: string
  displayName?: unknown
  layer?: unknown
  group?: unknown
  cloudTypes?: unknown
  addonType?: unknown
  addonSubType?: unknown
  charts?: unknown
  kubeManifests?: unknown
  [extra: string]: unknown
}

export interface PackProblem {
  /** The file the problem is in (pack.json, values.yaml, a chart...). */
  file: string
  /** The pack.json field, when there is one. */
  field: string | null
  message: string
}

export interface CheckedPack {
  pack: PackJson
  /** The tag the version gets: `[group__]version`. */
  tag: string
  group: string | null
  /** What is shown for the pack: displayName, else the name. */
  displayName: string
  /** layer as written when it is a string, else ''. */
  layer: string
  warnings: PackProblem[]
}

export interface CheckOptions {
  /** Warnings are errors too (packs.validation: strict, pack push --strict). */
  strict: boolean
}


/** A problem found while checking, thrown to stop checking the value it is about. */
class Problem extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`pack.json: ${field} ${problem}`)
  }
}

function invalid(field: string, problem: string): Problem {
  return new Problem(field, problem)
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}


// -- JSON syntax errors ------------------------------------------------------------------
// JSON.parse's messages differ between Node versions and only sometimes carry a position, so
// a failed parse is re-scanned to say where the first error is.

interface SyntaxProblem {
  position: number
  problem: string
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const STRING_BODY = /(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*/y

/** Printable ASCII as itself, anything else (often invisible) by its code point. */
function describeCharacter(text: string, at: number): string {
  const c = text.codePointAt(at) ?? 0
  if (c > 0x20 && c < 0x7f) return JSON.stringify(String.fromCodePoint(c))
  const name = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
  return c === 0xfeff ? `${name} (a byte-order mark: save the file as UTF-8 without one)` : name
}

function findSyntaxProblem(text: string): SyntaxProblem {
  let i = 0
  const open: string[] = []
  const at = (problem?: string): SyntaxProblem => ({
    position: i,
    problem: problem ?? (i < text.length ? `unexpected character ${describeCharacter(text, i)}` : 'unexpected end of input'),
  })
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++
  }
  const match = (re: RegExp): boolean => {
    re.lastIndex = i
    if (re.exec(text) === null) return false
    i = re.lastIndex
    return true
  }
  const scanString = (): SyntaxProblem | null => {
    i++
    match(STRING_BODY)
    if (text[i] === '"') {
      i++
      return null
    }
    if (i >= text.length) return at('unterminated string')
    return at(text[i] === '\\' ? 'invalid escape in string' : 'control character in string')
  }
  // After `{` or `,` inside an object: a key and its colon.
  const scanKey = (): SyntaxProblem | null => {
    skipSpace()
    if (text[i] !== '"') return at(i < text.length ? 'expected a property name in double quotes' : undefined)
    const bad = scanString()
    if (bad !== null) return bad
    skipSpace()
    if (text[i] !== ':') return at('expected ":" after a property name')
    i++
    return null
  }
  for (;;) {
    skipSpace()
    const c = text[i]
    if (c === '{' || c === '[') {
      i++
      skipSpace()
      if (text[i] === (c === '{' ? '}' : ']')) {
        i++
      } else {
        open.push(c)
        const bad = c === '{' ? scanKey() : null
        if (bad !== null) return bad
        continue
      }
    } else if (c === '"') {
      const bad = scanString()
      if (bad !== null) return bad
    } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
      i += 4
    } else if (text.startsWith('false', i)) {
      i += 5
    } else if (!match(NUMBER)) {
      return at()
    }
    // A value ended: close containers until one continues with a comma.
    for (;;) {
      skipSpace()
      const top = open[open.length - 1]
      // JSON.parse refused the text, so a complete top-level value must have text after it.
      if (top === undefined) return at('unexpected text after the JSON value')
      if (text[i] === ',') {
        i++
        const bad = top === '{' ? scanKey() : null
        if (bad !== null) return bad
        break
      }
      if (text[i] !== (top === '{' ? '}' : ']')) {
        return at(i < text.length ? `expected "," or "${top === '{' ? '}' : ']'}"` : undefined)
      }
      i++
      open.pop()
    }
  }
}

/** The 1-based line and column of a character offset in `text`. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position)
  const line = before.split('\n').length
  return { line, column: position - before.lastIndexOf('\n') }
}

// -- schema ----------------------------------------------------------------------------

function child(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function checkString(value: unknown, path: string, nonEmpty = false): void {
  if (typeof value !== 'string') throw invalid(path, `must be a string, got ${kindOf(value)}`)
  if (nonEmpty && value === '') throw invalid(path, 'must not be empty')
}

function checkRequiredString(obj: JsonObject, key: string, path: string): void {
  const value = obj[key]
  if (value === undefined) throw invalid(path, 'is required')
  checkString(value, path, true)
}

function checkOptionalString(obj: JsonObject, key: string, path: string): void {
  const value = obj[key]
  if (value !== undefined) checkString(value, path)
}

function checkEnum(value: unknown, path: string, allowed: readonly string[]): void {
  if (value === undefined) throw invalid(path, 'is required')
  if (typeof value !== 'string' || !allowed.includes(value)) {
    const got = typeof value === 'string' ? JSON.stringify(value) : kindOf(value)
    throw invalid(path, `must be one of ${allowed.join(', ')}; got ${got}`)
  }
}

function checkObject(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) throw invalid(path, `must be an object, got ${kindOf(value)}`)
  return value
}

function checkDependency(value: unknown, path: string, found: Collector): void {
  const dep = checkObject(value, path)
  found.warn(() => checkRequiredString(dep, 'packName', `${path}.packName`))
  found.warn(() => checkEnum(dep.layer, `${path}.layer`, LAYERS))
  found.warn(() => checkOptionalString(dep, 'minVersion', `${path}.minVersion`))
  found.warn(() => checkOptionalString(dep, 'maxVersion', `${path}.maxVersion`))
  found.warn(() => checkEnum(dep.type, `${path}.type`, DEPENDENCY_TYPES))
}

function checkComponent(value: unknown, path: string, found: Collector): void {
  const component = checkObject(value, path)
  found.warn(() => checkEnum(component.scheduleType, `${path}.scheduleType`, SCHEDULE_TYPES))
  found.warn(() => checkOptionalString(component, 'resourceRequestParamRef', `${path}.resourceRequestParamRef`))
  found.warn(() => checkOptionalString(component, 'replicaCountParamRef', `${path}.replicaCountParamRef`))
}

function checkResource(value: unknown, path: string, found: Collector): void {
  const resource = checkObject(value, path)
  found.warn(() => checkEnum(resource.type, `${path}.type`, RESOURCE_TYPES))
  const minLimit = resource.minLimit
  if (minLimit !== undefined && typeof minLimit !== 'number') {
    found.warn(() => {
      throw invalid(`${path}.minLimit`, `must be a number, got ${kindOf(minLimit)}`)
    })
  }
  found.warn(() => eachItem(resource, 'components', `${path}.components`, found, checkComponent))
}

/** Runs one check; a problem it throws is recorded and checking goes on with the next. */
class Collector {
  readonly errors: PackProblem[] = []
  readonly warnings: PackProblem[] = []

  private run(into: PackProblem[], check: () => void): boolean {
    try {
      check()
      return true
    } catch (err) {
      if (err instanceof Problem) into.push({ file: 'pack.json', field: err.field, message: err.message })
      else if (err instanceof RegistryError && err.code === 'PACK_INVALID') {
        into.push({ file: String(err.detail?.file ?? 'pack.json'), field: (err.detail?.field as string | null | undefined) ?? null, message: err.message })
      } else throw err
      return false
    }
  }

  error(check: () => void): boolean {
    return this.run(this.errors, check)
  }

  warn(check: () => void): boolean {
    return this.run(this.warnings, check)
  }

  add(severity: 'error' | 'warning', problem: PackProblem): void {
    ;(severity === 'error' ? this.errors : this.warnings).push(problem)
  }
}

function checkPackJson(pack: JsonObject, found: Collector): void {
  found.error(() => {
    checkRequiredString(pack, 'name', 'name')
    const nameProblem = packNameProblem(pack.name as string)
    if (nameProblem !== null) throw invalid('name', `${JSON.stringify(pack.name)} ${nameProblem}`)
  })
  found.warn(() => checkRequiredString(pack, 'displayName', 'displayName'))
  const versionOk = found.error(() => checkRequiredString(pack, 'version', 'version'))
  found.warn(() => checkEnum(pack.layer, 'layer', LAYERS))
  const groupOk = found.error(() => {
    checkOptionalString(pack, 'group', 'group')
    normalizeGroup(pack.group)
  })
  found.warn(() => eachItem(pack, 'cloudTypes', 'cloudTypes', found, (v, path) => checkEnum(v, path, CLOUD_TYPES)))
  if (pack.cloudType !== undefined) found.warn(() => checkEnum(pack.cloudType, 'cloudType', CLOUD_TYPES))
  for (const key of ['eol', 'addonType', 'addonSubType']) found.warn(() => checkOptionalString(pack, key, key))
  for (const key of ['ansibleRoles', 'charts', 'kubeManifests']) found.warn(() => eachItem(pack, key, key, found, (v, path) => checkString(v, path)))
  const annotations = pack.annotations
  if (annotations !== undefined) {
    found.warn(() => {
      const obj = checkObject(annotations, 'annotations')
      for (const key of Object.keys(obj)) found.warn(() => checkString(obj[key], child('annotations', key)))
    })
  }
  const constraints = pack.constraints
  if (constraints !== undefined) {
    found.warn(() => {
      const obj = checkObject(constraints, 'constraints')
      eachItem(obj, 'dependencies', 'constraints.dependencies', found, checkDependency)
      eachItem(obj, 'resources', 'constraints.resources', found, checkResource)
    })
  }
  if (versionOk && groupOk) {
    // Needs both group and version: the tag this pack would be pushed as.
    const tagOk = found.error(() => versionTagFor(normalizeGroup(pack.group), pack.version as string))
    if (tagOk && parseVersion(pack.version as string) === null) {
      found.add('warning', {
        file: 'pack.json',
        field: 'version',
        message: `pack.json: version ${JSON.stringify(pack.version)} is not a semantic version (MAJOR[.MINOR[.PATCH]]), so it gets no parent tags such as 1.x`,
      })
    }
  }
}

/** Checks each item of an optional array on its own, so every bad entry is reported. */
function eachItem(obj: JsonObject, key: string, path: string, found: Collector, check: (value: unknown, path: string, found: Collector) => void): void {
  const value = obj[key]
  if (value === undefined) return
  if (!Array.isArray(value)) throw invalid(path, `must be an array, got ${kindOf(value)}`)
  value.forEach((item, i) => found.warn(() => check(item, `${path}[${i}]`, found)))
}

/** JSON text to an object, or PACK_INVALID saying where the syntax breaks. */
export function parsePackJsonText(text: string): JsonObject {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    const { position, problem } = findSyntaxProblem(text)
    const { line, column } = lineAndColumn(text, position)
    throw new RegistryError('PACK_INVALID', `pack.json: not valid JSON at line ${line}, column ${column}: ${problem}`, {
      file: 'pack.json',
      field: null,
      position,
      line,
      column,
    })
  }
  if (!isJsonObject(value)) {
    throw new RegistryError('PACK_INVALID', `pack.json: must be a JSON object, got ${kindOf(value)}`, {
      file: 'pack.json',
      field: null,
    })
  }
  return value
}

/**
 * Validates a pack: its pack.json text (undefined when the pack has none), the paths of its
 * regular files (relative to the pack root, posix, no leading `./`) and what yamlProblem found
 * in its YAML files. Throws PACK_INVALID listing every error (and every warning when strict);
 * returns the pack with its warnings otherwise.
 */
export function checkPack(text: string | undefined, paths: ReadonlySet<string>, options: CheckOptions, yamlProblems: readonly PackProblem[] = []): CheckedPack {
  if (text === undefined) throw new RegistryError('PACK_INVALID', 'pack.json is missing from the archive', { file: 'pack.json', field: null })
  const doc = parsePackJsonText(text)
  const found = new Collector()
  checkPackJson(doc, found)
  checkPackFiles(doc, paths, found)
  for (const problem of yamlProblems) found.add('warning', problem)
  const refused = options.strict ? [...found.errors, ...found.warnings] : found.errors
  if (refused.length > 0) throw packInvalid(refused, options.strict && found.warnings.length > 0)
  const pack = doc as PackJson
  const group = normalizeGroup(pack.group)
  return {
    pack,
    tag: versionTagFor(group, pack.version),
    group,
    displayName: typeof pack.displayName === 'string' && pack.displayName !== '' ? pack.displayName : pack.name,
    layer: typeof pack.layer === 'string' ? pack.layer : '',
    warnings: found.warnings,
  }
}

/** Strict validation: a pack with warnings is refused, every warning named. */
export function warningsRefused(warnings: PackProblem[]): RegistryError {
  return packInvalid(warnings, true)
}

function packInvalid(problems: PackProblem[], strict: boolean): RegistryError {
  const first = problems[0] as PackProblem
  const how = strict ? ' (strict validation: warnings are errors)' : ''
  const message = problems.length === 1 ? `${first.message}${how}` : `${problems.length} problems in the pack${how}: ${problems.map((p) => p.message).join('; ')}`
  return new RegistryError('PACK_INVALID', message, { file: first.file, field: first.field, problems })
}

// -- files named by pack.json ---------------------------------------------------------------

/** A pack-relative path from pack.json as the archive lists it, or why it can never be there. */
function packPath(raw: string): { path: string } | { problem: string } {
  if (raw.startsWith('/')) return { problem: 'must be a relative path, not an absolute one' }
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.')
  if (segments.includes('..')) return { problem: 'must stay inside the pack (no ".." segments)' }
  if (segments.length === 0) return { problem: 'names no file' }
  return { path: segments.join('/') }
}

/**
 * Looks up the files pack.json relies on, and the ones every pack is expected to have. All of
 * these are warnings: the stock registry serves such packs (a chart shipped unpacked, a
 * manifest list that went stale).
 */
function checkPackFiles(pack: JsonObject, paths: ReadonlySet<string>, found: Collector): void {
  if (!paths.has('values.yaml')) {
    found.add('warning', { file: 'values.yaml', field: null, message: 'values.yaml is missing: Palette expects one at the pack root, even an empty one' })
  }
  if (!paths.has('logo.png') && !paths.has('logo.webp')) {
    found.add('warning', { file: 'logo.png', field: null, message: 'neither logo.png nor logo.webp is in the pack: Palette shows a placeholder instead' })
  }
  let directories: Set<string> | undefined
  const isDirectory = (path: string): boolean => {
    if (directories === undefined) {
      directories = new Set()
      for (const p of paths) {
        for (let at = p.indexOf('/'); at !== -1; at = p.indexOf('/', at + 1)) directories.add(p.slice(0, at))
      }
    }
    return directories.has(path)
  }
  for (const field of ['charts', 'kubeManifests'] as const) {
    const names = pack[field]
    if (!Array.isArray(names)) continue
    // Helm charts may be shipped unpacked as a folder; manifests are always single files.
    const folderAllowed = field === 'charts'
    names.forEach((raw: unknown, i) => {
      if (typeof raw !== 'string') return
      const name = `${field}[${i}]`
      const resolved = packPath(raw)
      if ('problem' in resolved) {
        found.add('warning', { file: 'pack.json', field: name, message: `pack.json: ${name} ${JSON.stringify(raw)} ${resolved.problem}` })
        return
      }
      const { path } = resolved
      if (!paths.has(path) && !(folderAllowed && isDirectory(path))) {
        found.add('warning', { file: path, field: name, message: `pack.json: ${name} names ${JSON.stringify(path)}, which is not in the pack` })
      }
    })
  }
}
