// Changing one key of the operator's config file for a command (`packyard user add --writer`
// adds the user to auth.access.writers). The file is edited with the yaml Document API, so
// comments, order and styles stay; it is edited only when that is safe: a regular file we may
// write, not overridden by a REGISTRY_* variable, that the yaml library writes back byte for byte
// when nothing is changed, and whose edited form loads to the same configuration but for that
// key. Otherwise the refusal says exactly what to change by hand. The file is replaced
// atomically with its mode kept.

import { constants as fsConstants } from 'node:fs'
import { access, lstat, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type Document, isSeq, parseDocument, parse as parseYaml, type ToStringOptions } from 'yaml'
import { writeFileAtomic } from '../files.js'
import { type Config, loadConfig } from './load.js'

/** The edit cannot be made safely; the message says what to change by hand. Nothing was written. */
export class ConfigEditRefused extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigEditRefused'
  }
}

export interface WritersEdit {
  /** The writers once the edit is applied. */
  writers: string[]
  /** False when the user already is a writer (apply() does nothing). */
  changed: boolean
  /** The config file the edit goes to (undefined when nothing is to change). */
  file: string | undefined
  apply(): Promise<void>
}

const WRITERS_PATH = ['auth', 'access', 'writers']
const ENV_WRITERS = 'REGISTRY_AUTH_ACCESS_WRITERS'

/**
 * Prepares adding `user` to auth.access.writers of `file` (the config as a command found it;
 * undefined: the built-in defaults). Throws ConfigEditRefused when Packyard cannot make the
 * change safely.
 */
export async function planAddWriter(file: string | undefined, user: string, env: NodeJS.ProcessEnv): Promise<WritersEdit> {
  const config = loadConfig({ file, env })
  if (!config.auth) throw new ConfigEditRefused(`${file ?? 'the configuration'} turns authentication off (auth: none, or REGISTRY_AUTH=none), so there are no users or writers`)
  const current = config.auth.writers
  const writers = [...current, user]
  if (current.includes(user)) return { writers: current, changed: false, file: undefined, apply: async () => undefined }
  const byHand = `auth:\n  access:\n    writers: [${writers.join(', ')}]`
  if (env[ENV_WRITERS] !== undefined) {
    throw new ConfigEditRefused(`${ENV_WRITERS} overrides the config file's auth.access.writers; set ${ENV_WRITERS}=${writers.join(',')} where the server gets its environment, and restart it`)
  }
  if (file === undefined) {
    throw new ConfigEditRefused(
      `there is no config file (the built-in defaults are in use), so there is nowhere to record writers. Start the server with a config file that says\n${byHand}\nor with ${ENV_WRITERS}=${writers.join(',')}`,
    )
  }
  const refuse = (why: string) => new ConfigEditRefused(`${why}. Change it by hand so that it says\n${byHand}\n(a server started with it applies that within seconds)`)

  const st = await lstat(file)
  if (st.isSymbolicLink()) throw refuse(`${file} is a symbolic link (a mounted ConfigMap or secret?); Packyard does not replace it`)
  if (!st.isFile()) throw refuse(`${file} is not a regular file`)
  const writable = await Promise.all([access(file, fsConstants.W_OK), access(dirname(file), fsConstants.W_OK)]).then(
    () => true,
    () => false,
  )
  if (!writable) throw refuse(`${file} cannot be written from here (read-only mount or another owner)`)

  const text = await readFile(file, 'utf8')
  const doc = parseDocument(text)
  const format = sameTextFormat(doc, text)
  if (format === null) throw refuse(`writing ${file} back would change its layout (spacing or quoting the yaml library normalises), and Packyard edits a config only when nothing else changes`)
  const node = doc.getIn(WRITERS_PATH, true)
  if (isSeq(node)) doc.addIn(WRITERS_PATH, user)
  else if (!canSetWriters(doc)) throw refuse(`auth in ${file} is not a mapping Packyard can add keys to`)
  else doc.setIn(WRITERS_PATH, doc.createNode(writers, { flow: true }))
  const edited = doc.toString(format)
  if (!sameButWriters(config, loadConfig({ doc: (parseYaml(edited) ?? {}) as Record<string, unknown>, env }), writers)) {
    throw refuse(`editing ${file} would change more than auth.access.writers`)
  }
  return {
    writers,
    changed: true,
    file,
    apply: async () => {
      if ((await readFile(file, 'utf8')) !== text) throw refuse(`${file} changed while this command ran; run it again`)
      await writeFileAtomic(file, edited, st.mode & 0o7777)
    },
  }
}

/** The stringify options that give `text` back unchanged, if any. */
function sameTextFormat(doc: Document, text: string): ToStringOptions | null {
  if (doc.errors.length > 0) return null
  for (const indent of [2, 4, 3]) {
    for (const flowCollectionPadding of [false, true]) {
      const options: ToStringOptions = { indent, flowCollectionPadding }
      if (doc.toString(options) === text) return options
    }
  }
  return null
}

/** auth and auth.access (when present) are mappings, so setIn can add below them. */
function canSetWriters(doc: Document): boolean {
  for (const path of [['auth'], ['auth', 'access']]) {
    const node = doc.getIn(path, true) as { items?: unknown } | null | undefined
    if (node === undefined || node === null) continue
    if (typeof node !== 'object' || !('items' in node) || isSeq(node)) return false
  }
  return true
}

function sameButWriters(before: Config, after: Config, writers: string[]): boolean {
  const expected = { ...before, source: '', file: null, auth: before.auth && { ...before.auth, writers } }
  return JSON.stringify({ ...after, source: '', file: null }) === JSON.stringify(expected)
}
