// The single-file client's downloads: the platforms `npm run build:client` makes it for, the
// files' names, and the manifest the build writes beside them in dist/client/ (the version and
// commit they were built from, each file's size and sha256). The build writes the manifest last;
// the registry reads it to serve the files under /_client/ and the pack browser to show how to
// get them.

import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { RegistryError } from './errors.js'
import { unlessMissing } from './files.js'
import { isJsonObject } from './json.js'
import { PACKAGE_ROOT } from './paths.js'
import type { ByteRange } from './store/types.js'

/** Where the build puts the files, and where a server run from the same tree serves them from. */
export const CLIENT_DIR = join(PACKAGE_ROOT, 'dist', 'client')
export const CLIENT_MANIFEST = 'manifest.json'

export interface ClientTarget {
  /** the npm `node-<id>` package carries this platform's Node binary */
  id: 'linux-x64' | 'linux-arm64' | 'win-x64'
  os: 'linux' | 'win'
  arch: 'x64' | 'arm64'
  file: string
}

export const CLIENT_TARGETS: readonly ClientTarget[] = [
  { id: 'linux-x64', os: 'linux', arch: 'x64', file: 'packyard-linux-x64' },
  { id: 'linux-arm64', os: 'linux', arch: 'arm64', file: 'packyard-linux-arm64' },
  { id: 'win-x64', os: 'win', arch: 'x64', file: 'packyard-win-x64.exe' },
]

export interface ClientFile {
  file: string
  target: ClientTarget['id']
  size: number
  /** hex */
  sha256: string
  /** a hash of everything the file was made from (bundle, Node binary, options): equal inputs, equal file */
  inputs: string
}

export interface ClientManifest {
  version: string
  commit: string
  /** the Node.js version inside */
  node: string
  files: ClientFile[]
}

/** What the registry answers when nothing is built: how to build it. */
export const NOT_BUILT =
  'this registry has no client files: run `npm run build:client` in the Packyard checkout it runs from (the Docker image carries them already); the registry serves them as soon as they are built'

/** The manifest in `dir`, or null when the client was never built there. */
export async function readClientManifest(dir: string): Promise<ClientManifest | null> {
  const text = await unlessMissing(readFile(join(dir, CLIENT_MANIFEST), 'utf8'))
  if (text === null) return null
  const doc: unknown = JSON.parse(text)
  if (!isJsonObject(doc) || typeof doc.version !== 'string' || typeof doc.commit !== 'string' || !Array.isArray(doc.files)) {
    throw new Error(`${join(dir, CLIENT_MANIFEST)} is not a client manifest; run npm run build:client again`)
  }
  return doc as unknown as ClientManifest
}

export interface ClientDownload {
  manifest: ClientManifest
  entry: ClientFile
  open: (range?: ByteRange) => Readable
}

/** The built client files of one folder, as the registry serves them. */
export class ClientDownloads {
  constructor(private readonly dir: string) {}

  /** Everything built, or null when nothing is. */
  async manifest(): Promise<ClientManifest | null> {
    return readClientManifest(this.dir)
  }

  /** One file by its name; 404 naming the files there are (or how to build them). */
  async find(name: string): Promise<ClientDownload> {
    const manifest = await this.manifest()
    if (manifest === null) throw new RegistryError('NOT_FOUND', NOT_BUILT)
    const entry = manifest.files.find((f) => f.file === name)
    if (entry === undefined) {
      const files = manifest.files.map((f) => f.file).join(', ')
      throw new RegistryError('NOT_FOUND', `there is no client file ${name}; this registry has ${files || 'none'}`, { file: name })
    }
    const path = join(this.dir, entry.file)
    const stats = await unlessMissing(stat(path))
    if (stats === null) throw new RegistryError('NOT_FOUND', `${entry.file} is listed in ${CLIENT_MANIFEST} but missing; ${NOT_BUILT}`, { file: name })
    // The build replaces a file before the manifest: for that moment the two disagree.
    if (stats.size !== entry.size) throw new RegistryError('UNAVAILABLE', `${entry.file} is being rebuilt; try again in a minute`, { file: name }, { 'retry-after': '60' })
    return { manifest, entry, open: (range) => createReadStream(path, range ? { start: range.start, end: range.end } : {}) }
  }
}
