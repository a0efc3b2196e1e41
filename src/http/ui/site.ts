// What a reader copies from the pack browser to reach this registry from elsewhere, built from
// the address the browser used (Host and scheme, X-Forwarded-* behind trusted proxies): the
// commands that pull one pack version (packyard, oras over /v2, curl of the /v1 archive) or an
// artifact (oras), the fields Palette asks for when the registry is added in either mode, the
// commands that download the single-file client from this registry for each platform, and the
// first push into an empty registry.

import type { FastifyRequest } from 'fastify'
import { CLIENT_TARGETS, type ClientFile, type ClientManifest } from '../../client-files.js'

export interface Site {
  /** `https://registry.example.com:5000` */
  origin: string
  /** `registry.example.com:5000`, as OCI references and the packyard CLI name a registry */
  host: string
  secure: boolean
}

export interface Command {
  label: string
  command: string
}

export interface PaletteSettings {
  endpoint: string
  /** the OCI registry's base content path; null when the namespace cannot be reached as Palette looks for it */
  basePath: string | null
  namespace: string
}

/** The path Palette's OCI mode looks under, below the base content path. */
const PALETTE_NAMESPACE = 'spectro-packs/archive'

export function siteOf(request: FastifyRequest): Site {
  const secure = request.protocol === 'https'
  return { origin: `${request.protocol}://${request.host}`, host: request.host, secure }
}

/** Quotes a shell word when it needs it (user names are the only free text here). */
function shellWord(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

export interface PullTarget {
  name: string
  /** a tag, or the archive digest for a version without tags */
  tag: string
  archiveDigest: string
  manifestDigest: string
  user: string | null
}

/** Commands that fetch this pack version, by tag and pinned to its digests. */
export function pullCommands(site: Site, namespace: string, target: PullTarget): { byTag: Command[]; pinned: Command[] } {
  const { name, tag } = target
  const plain = site.secure ? '' : ' --plain-http'
  const credentials = target.user === null ? '' : ` -u ${shellWord(target.user)}`
  const ociRepository = `${site.host}/${namespace}/${name}`
  const curl = (ref: string) => `curl${credentials} -fOJ ${site.origin}/v1/_packs/${name}/${ref}/archive`
  const tagged = !tag.includes(':')
  return {
    byTag: tagged
      ? [
          { label: 'packyard', command: `packyard pack pull ${name}:${tag} ./packs -r ${site.host}` },
          { label: 'oras', command: `oras pull${plain} ${ociRepository}:${tag}` },
          { label: 'curl', command: curl(tag) },
        ]
      : [],
    pinned: [
      { label: 'packyard', command: `packyard pack pull ${name}@${target.archiveDigest} ./packs -r ${site.host}` },
      { label: 'oras', command: `oras pull${plain} ${ociRepository}@${target.manifestDigest}` },
      { label: 'curl', command: curl(target.archiveDigest) },
    ],
  }
}

/** Commands that fetch an artifact of a pack repository (it has no archive): by tag and digest. */
export function artifactCommands(site: Site, namespace: string, name: string, tag: string | null, digest: string): { byTag: Command[]; pinned: Command[] } {
  const oras = (ref: string) => ({ label: 'oras', command: `oras pull${site.secure ? '' : ' --plain-http'} ${site.host}/${namespace}/${name}${ref}` })
  return { byTag: tag === null ? [] : [oras(`:${tag}`)], pinned: [oras(`@${digest}`)] }
}

/** The Pack Registry endpoint (legacy mode) and the OCI registry fields (recommended mode). */
export function paletteSettings(site: Site, namespace: string): PaletteSettings {
  let basePath: string | null = null
  if (namespace === PALETTE_NAMESPACE) basePath = ''
  else if (namespace.endsWith(`/${PALETTE_NAMESPACE}`)) basePath = namespace.slice(0, -PALETTE_NAMESPACE.length - 1)
  return { endpoint: site.origin, basePath, namespace }
}

export interface ClientPlatform {
  name: string
  /** the platform the browser runs on (from its User-Agent) */
  yours: boolean
  commands: Command[]
  files: ClientFile[]
}

/** The client's login to this registry; over plain HTTP it must say --insecure. */
export function loginCommand(site: Site, binary: string): Command {
  return { label: 'log in', command: `${binary} registry login ${site.host}${site.secure ? '' : ' --insecure'}` }
}

/** What the empty pack list suggests: log in to this registry, push a pack folder. */
export function firstPushCommands(site: Site): Command[] {
  return [loginCommand(site, 'packyard'), { label: 'push', command: 'packyard pack push ./my-pack' }]
}

/** `uname -m` names arm64 `aarch64` on Linux and x64 `x86_64`; the files use Node's names. */
const UNAME_ARCH = `$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')`

/**
 * The commands that download the client from this registry and log in with it, per platform
 * built, the browser's own platform first. Null when nothing is built.
 */
export function clientPlatforms(site: Site, manifest: ClientManifest | null, userAgent: string | undefined): ClientPlatform[] | null {
  if (manifest === null || manifest.files.length === 0) return null
  const login = (binary: string) => loginCommand(site, binary)
  const filesOf = (os: string) => manifest.files.filter((f) => CLIENT_TARGETS.find((t) => t.id === f.target)?.os === os)
  const platforms: ClientPlatform[] = []
  const linux = filesOf('linux')
  if (linux.length > 0) {
    const file = linux.length > 1 ? `packyard-linux-${UNAME_ARCH}` : (linux[0] as ClientFile).file
    platforms.push({
      name: 'Linux',
      yours: !/Windows|Macintosh|Mac OS X/.test(userAgent ?? ''),
      files: linux,
      commands: [
        { label: 'download', command: `curl -fsSLo packyard ${site.origin}/_client/${file} && chmod +x packyard` },
        { label: 'verify', command: `echo "$(curl -fsSL ${site.origin}/_client/${file}.sha256 | cut -d' ' -f1)  packyard" | sha256sum -c` },
        login('./packyard'),
      ],
    })
  }
  for (const f of filesOf('win')) {
    platforms.push({
      name: 'Windows',
      yours: /Windows/.test(userAgent ?? ''),
      files: [f],
      commands: [{ label: 'download', command: `curl.exe -fsSLo packyard.exe ${site.origin}/_client/${f.file}` }, login('.\\packyard.exe')],
    })
  }
  return platforms.sort((a, b) => Number(b.yours) - Number(a.yours))
}
