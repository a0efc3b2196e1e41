// pack.json: parses it, validates it against Spectro Cloud's published pack schema (extra
// keys allowed, as real packs carry them), and checks that the files it names are in the
// pack. Every failure is a PACK_INVALID naming the file and the field, first error only, in a
// fixed order, so a user fixing a pack sees the same message on every push.

import { RegistryError } from '../errors.js'
import { packNameProblem } from './names.js'
import { normalizeGroup, versionTagFor } from './tags.js'
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

export interface PackJson {
  name: string
  displayName: string
  version: string
  layer: Layer
  group?: string
  cloudTypes?: string[]
  cloudType?: string
  eol?: string
  addonType?: string
  addonSubType?: string
  ansibleRoles?: string[]
  charts?: string[]
  kubeManifests?: string[]
  annotations?: Record<string, string>
  constraints?: PackConstraints
  [extra: string]: unknown
}


function invalid(field: string, problem: string): RegistryError {
  return new RegistryError('PACK_INVALID', `pack.json: ${field} ${problem}`, { file: 'pack.json', field })
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
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++
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

function lineAndColumn(text: string, position: number): { line: number; column: number } {
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

function checkArray(obj: JsonObject, key: string, path: string, item: (value: unknown, path: string) => void): void {
  const value = obj[key]
  if (value === undefined) return
  if (!Array.isArray(value)) throw invalid(path, `must be an array, got ${kindOf(value)}`)
  value.forEach((v, i) => item(v, `${path}[${i}]`))
}

function checkObject(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) throw invalid(path, `must be an object, got ${kindOf(value)}`)
  return value
}

function checkDependency(value: unknown, path: string): void {
  const dep = checkObject(value, path)
  checkRequiredString(dep, 'packName', `${path}.packName`)
  checkEnum(dep.layer, `${path}.layer`, LAYERS)
  checkOptionalString(dep, 'minVersion', `${path}.minVersion`)
  checkOptionalString(dep, 'maxVersion', `${path}.maxVersion`)
  checkEnum(dep.type, `${path}.type`, DEPENDENCY_TYPES)
}

function checkComponent(value: unknown, path: string): void {
  const component = checkObject(value, path)
  checkEnum(component.scheduleType, `${path}.scheduleType`, SCHEDULE_TYPES)
  checkOptionalString(component, 'resourceRequestParamRef', `${path}.resourceRequestParamRef`)
  checkOptionalString(component, 'replicaCountParamRef', `${path}.replicaCountParamRef`)
}

function checkResource(value: unknown, path: string): void {
  const resource = checkObject(value, path)
  checkEnum(resource.type, `${path}.type`, RESOURCE_TYPES)
  const minLimit = resource.minLimit
  if (minLimit !== undefined && typeof minLimit !== 'number') {
    throw invalid(`${path}.minLimit`, `must be a number, got ${kindOf(minLimit)}`)
  }
  checkArray(resource, 'components', `${path}.components`, checkComponent)
}

function checkPackJson(pack: JsonObject): void {
  checkRequiredString(pack, 'name', 'name')
  const nameProblem = packNameProblem(pack.name as string)
  if (nameProblem !== null) throw invalid('name', `${JSON.stringify(pack.name)} ${nameProblem}`)
  checkRequiredString(pack, 'displayName', 'displayName')
  checkRequiredString(pack, 'version', 'version')
  checkEnum(pack.layer, 'layer', LAYERS)
  checkOptionalString(pack, 'group', 'group')
  normalizeGroup(pack.group)
  checkArray(pack, 'cloudTypes', 'cloudTypes', (v, path) => checkEnum(v, path, CLOUD_TYPES))
  if (pack.cloudType !== undefined) checkEnum(pack.cloudType, 'cloudType', CLOUD_TYPES)
  for (const key of ['eol', 'addonType', 'addonSubType']) checkOptionalString(pack, key, key)
  for (const key of ['ansibleRoles', 'charts', 'kubeManifests']) {
    checkArray(pack, key, key, (v, path) => checkString(v, path))
  }
  const annotations = pack.annotations
  if (annotations !== undefined) {
    const obj = checkObject(annotations, 'annotations')
    for (const key of Object.keys(obj)) checkString(obj[key], child('annotations', key))
  }
  const constraints = pack.constraints
  if (constraints !== undefined) {
    const obj = checkObject(constraints, 'constraints')
    checkArray(obj, 'dependencies', 'constraints.dependencies', checkDependency)
    checkArray(obj, 'resources', 'constraints.resources', checkResource)
  }
  // Last, because it needs both group and version: the tag this pack would be pushed as.
  versionTagFor((pack.group as string | undefined) ?? null, pack.version as string)
}

export function parsePackJson(text: string): PackJson {
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
  checkPackJson(value)
  // Every typed field was checked above; other keys stay as they were.
  return value as PackJson
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
 * Checks that the files pack.json relies on are in the pack. `paths` are the pack's regular
 * files, relative to its root, posix, without a leading `./`.
 */
export function checkPackFiles(pack: PackJson, paths: ReadonlySet<string>): void {
  if (!paths.has('values.yaml')) {
    throw new RegistryError(
      'PACK_INVALID',
      'values.yaml is missing: every pack needs one at its root, even an empty one',
      { file: 'values.yaml', field: null },
    )
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
    // Helm charts may be shipped unpacked as a folder; manifests are always single files.
    const folderAllowed = field === 'charts'
    for (const [i, raw] of (pack[field] ?? []).entries()) {
      const name = `${field}[${i}]`
      const resolved = packPath(raw)
      if ('problem' in resolved) throw invalid(name, `${JSON.stringify(raw)} ${resolved.problem}`)
      const { path } = resolved
      if (!paths.has(path) && !(folderAllowed && isDirectory(path))) {
        throw new RegistryError('PACK_INVALID', `pack.json: ${name} names ${JSON.stringify(path)}, which is not in the pack`, {
          file: path,
          field: name,
        })
      }
    }
  }
}
