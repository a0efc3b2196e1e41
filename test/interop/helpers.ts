// Helpers for the interop tests with real clients: an OCI image layout written by hand (one
// image of a config and three layers, one index of two platform images), skopeo runs, a
// Packyard server with htpasswd auth, and the CNCF reference registry (docker-registry) on a
// free loopback port. Missing programs fail the tests (requireProgram), they never skip.

import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { pack as tarPack } from 'tar-stream'
import { freePort, isRequestLine, makeHtpasswd, requireProgram, startServer, tempDir } from '../helpers.js'

interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

interface Descriptor {
  mediaType: string
  digest: string
  size: number
}

/** A gzipped tar holding one file of random bytes: a real layer with a known diff_id. */
async function randomLayer(name: string, size: number): Promise<{ gz: Buffer; diffId: string }> {
  const pack = tarPack()
  pack.entry({ name, mtime: new Date(0), uid: 0, gid: 0, mode: 0o644 }, randomBytes(size))
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of pack) chunks.push(chunk as Buffer)
  const tar = Buffer.concat(chunks)
  return { gz: gzipSync(tar), diffId: sha256(tar) }
}

export interface Layout {
  dir: string
  /** Tag "single": a config and three layers. */
  single: { digest: string; manifest: Buffer }
  /** Tag "multi": an index of two platform manifests. */
  multi: { digest: string; index: Buffer; children: string[] }
  /** Every blob of the layout (manifests included) by digest. */
  blobs: Map<string, Buffer>
}

/** Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) into `dir`. */
export async function writeLayout(dir: string): Promise<Layout> {
  const blobs = new Map<string, Buffer>()
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true })
  const add = (mediaType: string, data: Buffer): Descriptor => {
    const digest = sha256(data)
    blobs.set(digest, data)
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data)
    return { mediaType, digest, size: data.length }
  }
  const image = async (arch: string, layerCount: number): Promise<{ manifest: Buffer; descriptor: Descriptor }> => {
    const layers = []
    for (let i = 0; i < layerCount; i++) layers.push(await randomLayer(`${arch}-${i}.bin`, 64 * 1024 * (i + 1)))
    const config = Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        config: { Env: ['PATH=/usr/bin'] },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        history: layers.map((_, i) => ({ created_by: `layer ${i}` })),
      }),
    )
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: add('application/vnd.oci.image.config.v1+json', config),
        layers: layers.map((l) => add('application/vnd.oci.image.layer.v1.tar+gzip', l.gz)),
      }),
    )
    return { manifest, descriptor: add(OCI_MANIFEST, manifest) }
  }

  const single = await image('amd64', 3)
  const amd = await image('amd64', 2)
  const arm = await image('arm64', 2)
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...amd.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm.descriptor, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }),
  )
  const indexDescriptor = add(OCI_INDEX, index)
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...single.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'single' } },
        { ...indexDescriptor, annotations: { 'org.opencontainers.image.ref.name': 'multi' } },
      ],
    }),
  )
  return {
    dir,
    single: { digest: single.descriptor.digest, manifest: single.manifest },
    multi: { digest: indexDescriptor.digest, index, children: [amd.descriptor.digest, arm.descriptor.digest] },
    blobs,
  }
}

/** The manifest digest an OCI layout's index.json names for `tag`. */
export function layoutDigest(dir: string, tag: string): string | undefined {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> }
  return index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)?.digest
}

/** An OCI layout holding one manifest under `tag`, with its blobs (how `oras push` lays a pack out). */
export function writePackLayout(dir: string, tag: string, blobs: Buffer[], manifest: Buffer): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true })
  for (const blob of [...blobs, manifest]) writeFileSync(join(dir, 'blobs', 'sha256', sha256(blob).slice(7)), blob)
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  )
}

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs skopeo (no signature policy: these are local test images); throws on failure. */
export async function skopeo(args: string[], options: { allowFailure?: boolean } = {}): Promise<Run> {
  requireProgram('skopeo')
  const run = await new Promise<Run>((resolve) => {
    execFile('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    })
  })
  if (run.code !== 0 && !options.allowFailure) throw new Error(`skopeo ${args.join(' ')} failed (${run.code}):\n${run.stderr}`)
  return run
}

export const ADMIN_PASSWORD = 'interop-admin-secret'

export interface Packyard {
  url: string
  /** host:port, for docker:// references. */
  host: string
  root: string
  pid: number
  creds: string
  authorization: string
  /** The request log lines of every answer with a 5xx status (there must be none). */
  serverErrors: () => Array<Record<string, unknown>>
  /** Method and route of every request served, in order. */
  requests: () => string[]
}

/** `packyard serve` on a loopback port with htpasswd auth (user admin) and its own root. */
export async function startPackyard(t: Teardown, env: NodeJS.ProcessEnv = {}): Promise<Packyard> {
  const cwd = tempDir(t, 'packyard-interop-')
  const root = join(cwd, 'data')
  const htpasswd = makeHtpasswd(cwd, { admin: ADMIN_PASSWORD })
  const server = await startServer(
    t,
    [],
    {
      REGISTRY_HTTP_ADDR: '127.0.0.1:0',
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
      REGISTRY_AUTH_HTPASSWD_PATH: htpasswd,
      REGISTRY_AUTH_HTPASSWD_REALM: 'interop',
      ...env,
    },
    cwd,
  )
  return {
    url: server.url,
    host: new URL(server.url).host,
    root,
    pid: server.child.pid as number,
    creds: `admin:${ADMIN_PASSWORD}`,
    authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
    serverErrors: () => server.logs().filter((l) => isRequestLine(l) && Number(l.status) >= 500),
    requests: () => server.logs().filter((l) => isRequestLine(l)).map((l) => `${l.method} ${String(l.url).split('?')[0]} ${l.status}`),
  }
}

/** The CNCF reference registry (distribution 2.8) on a free loopback port, deletes enabled. */
export async function startReferenceRegistry(t: Teardown): Promise<{ host: string }> {
  const program = requireProgram('docker-registry')
  const dir = tempDir(t, 'reference-registry-')
  const port = await freePort()
  const config = join(dir, 'config.yml')
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  )
  const child = spawn(program, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  const deadline = Date.now() + 15_000
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) return { host: `127.0.0.1:${port}` }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start (exit ${child.exitCode}):\n${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
