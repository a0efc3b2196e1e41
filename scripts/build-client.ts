// npm run build:client [-- --target linux-x64 ...]: the packyard client as one executable file
// per platform in dist/client/ (src/client-files.ts names them), with Node's single-executable
// applications:
//   1. esbuild bundles the single-file entry (src/cli/single-file.ts, as tsc compiled it) into
//      one CommonJS script, the version and commit written in, the server and operator commands
//      left out (the build fails if a server module gets in anyway);
//   2. each platform's official Node binary comes from the npm registry's `node-<platform>`
//      package at the version pinned here, checked against the pinned integrity, and is kept in
//      node_modules/.cache/packyard-client/ (downloaded once per machine, not once per build);
//   3. that Node turns the script into a blob (`--experimental-sea-config`), with V8's code cache
//      for the platform this build runs on (a code cache only loads on the CPU it was made for);
//   4. postject injects the blob into a copy of the platform's Node binary.
// Equal inputs make byte-identical files: a file whose inputs did not change is not rebuilt, and
// anyone can rebuild a commit and compare the sha256 the registry serves.

import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { inject } from 'postject'
import { CLIENT_DIR, CLIENT_MANIFEST, CLIENT_TARGETS, type ClientFile, type ClientManifest, type ClientTarget, readClientManifest } from '../src/client-files.js'
import { COMMANDS } from '../src/cli/main.js'
import { writeFileAtomic } from '../src/files.js'
import { formatBytes } from '../src/format.js'
import { PACKAGE_ROOT } from '../src/paths.js'
import { buildCommit, VERSION } from '../src/version.js'

/** The Node.js inside every file: the LTS the tests and the image run on. */
export const CLIENT_NODE_VERSION = '24.21.0'

/** `npm view node-<id>@<version> dist.integrity`: a download must match it byte for byte. */
const NODE_INTEGRITY: Record<ClientTarget['id'], string> = {
  'linux-x64': 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  'linux-arm64': 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
  'win-x64': 'sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==',
}

const CACHE_DIR = join(PACKAGE_ROOT, 'node_modules', '.cache', 'packyard-client')
const ENTRY = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'single-file.js')
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/**
 * V8 seeds its string hashes from its random seed, and the code cache it writes holds them, so
 * two builds of the same script would differ. A fixed seed for the process that makes the blob
 * keeps the build reproducible; the file itself runs with a random one as always (a fixed seed
 * there would make V8 rehash Node's whole start-up snapshot, 14 % more start-up time).
 */
const BUILD_RANDOM_SEED = 20261207

/** Modules only the server loads: the client bundle must hold none of them. */
const SERVER_MODULES = /(^|\/)node_modules\/(fastify|@fastify\/|better-sqlite3|@aws-sdk\/|pino|acme-client|prom-client)/

export interface BuildOptions {
  targets: ReadonlyArray<ClientTarget['id']>
  log: (line: string) => void
}

/** Builds the files of `targets` that are not up to date; returns the manifest now in dist/client. */
export async function buildClient(options: BuildOptions): Promise<ClientManifest> {
  const host = process.platform === 'linux' ? CLIENT_TARGETS.find((t) => t.id === `linux-${process.arch}`) : undefined
  if (host === undefined) throw new Error(`the client is built on Linux (x64 or arm64), not on ${process.platform}/${process.arch}`)
  mkdirSync(CLIENT_DIR, { recursive: true })
  mkdirSync(CACHE_DIR, { recursive: true })
  const work = mkdtempSync(join(tmpdir(), 'packyard-client-'))
  try {
    const bundle = await bundleClient(work)
    const bundleHash = createHash('sha256').update(readFileSync(bundle)).digest('hex')
    const previous = await readClientManifest(CLIENT_DIR).catch(() => null)
    const files: ClientFile[] = []
    for (const target of CLIENT_TARGETS) {
      const codeCache = target.id === host.id
      const inputs = createHash('sha256').update(JSON.stringify({ bundleHash, node: NODE_INTEGRITY[target.id], sea: seaOptions(codeCache) })).digest('hex')
      const path = join(CLIENT_DIR, target.file)
      const current = previous?.files.find((f) => f.target === target.id && f.inputs === inputs)
      if (current !== undefined && existsSync(path) && statSync(path).size === current.size) {
        files.push(current)
        if (options.targets.includes(target.id)) options.log(`${target.file}: up to date`)
        continue
      }
      if (!options.targets.includes(target.id)) {
        // Made from other sources: serving it beside the new ones would mix versions.
        rmSync(path, { force: true })
        continue
      }
      const started = Date.now()
      const blob = seaBlob(nodeBinary(host, options.log), bundle, work, codeCache)
      files.push({ file: target.file, target: target.id, inputs, ...(await injectInto(nodeBinary(target, options.log), blob, path)) })
      const size = formatBytes(statSync(path).size)
      options.log(`${target.file}: built in ${((Date.now() - started) / 1000).toFixed(1)} s (${size}${codeCache ? ', with code cache' : ''})`)
    }
    const manifest: ClientManifest = { version: VERSION, commit: buildCommit(), node: CLIENT_NODE_VERSION, files }
    await writeFileAtomic(join(CLIENT_DIR, CLIENT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, 0o644)
    return manifest
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The single-file entry and everything it imports as one script, the operator commands left out. */
async function bundleClient(work: string): Promise<string> {
  const operatorFiles = new Set(COMMANDS.filter((c) => c.operator).map((c) => `./commands/${c.path.join('-')}.js`))
  for (const file of operatorFiles) {
    // A renamed command file would otherwise be bundled, server and all, without a word.
    if (!existsSync(join(PACKAGE_ROOT, 'dist', 'src', 'cli', file))) throw new Error(`operator command file dist/src/cli/${file.slice(2)} not found: main.ts and the command files disagree`)
  }
  const outfile = join(work, 'packyard.js')
  const result = await build({
    entryPoints: [ENTRY],
    // The bundle names each module by its path from here: the same wherever the checkout is.
    absWorkingDir: PACKAGE_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    outfile,
    metafile: true,
    logLevel: 'warning',
    define: { PACKYARD_BUILD: JSON.stringify({ version: VERSION, commit: buildCommit() }) },
    plugins: [
      {
        name: 'leave-out-operator-commands',
        setup(b) {
          b.onResolve({ filter: /^\.\/commands\// }, (args) => (operatorFiles.has(args.path) ? { path: args.path, external: true } : undefined))
        },
      },
    ],
  })
  const server = Object.keys(result.metafile.inputs).filter((input) => SERVER_MODULES.test(input))
  if (server.length > 0) throw new Error(`the client bundle would carry server modules: ${server.slice(0, 5).join(', ')}`)
  return outfile
}

function seaOptions(codeCache: boolean) {
  return {
    disableExperimentalSEAWarning: true,
    useCodeCache: codeCache,
    // NODE_OPTIONS meant for the user's own Node programs does not reach the client.
    execArgvExtension: 'none',
  }
}

function seaBlob(hostNode: string, bundle: string, work: string, codeCache: boolean): Buffer {
  const output = codeCache ? 'code-cache.blob' : 'plain.blob'
  if (!existsSync(join(work, output))) {
    // Paths relative to the work folder: the blob records the script's path as given.
    const config = `sea-config-${codeCache}.json`
    writeFileSync(join(work, config), JSON.stringify({ main: basename(bundle), output, ...seaOptions(codeCache) }))
    execFileSync(hostNode, [`--random-seed=${BUILD_RANDOM_SEED}`, '--experimental-sea-config', config], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] })
  }
  return readFileSync(join(work, output))
}

/** A copy of `node` with the blob injected, written to `path`; its size and sha256. */
async function injectInto(node: string, blob: Buffer, path: string): Promise<{ size: number; sha256: string }> {
  const temp = join(CLIENT_DIR, `.${basename(path)}.partial`)
  try {
    await copyFile(node, temp)
    await inject(temp, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE })
    chmodSync(temp, 0o755)
    const bytes = readFileSync(temp)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    renameSync(temp, path)
    return { size: bytes.length, sha256 }
  } finally {
    rmSync(temp, { force: true })
  }
}

/** The pinned Node binary of `target`, from the cache or downloaded into it through npm. */
function nodeBinary(target: ClientTarget, log: (line: string) => void): string {
  const name = target.os === 'win' ? 'node.exe' : 'node'
  const dir = join(CACHE_DIR, `node-${target.id}-${CLIENT_NODE_VERSION}`)
  const binary = join(dir, name)
  if (existsSync(binary)) return binary
  const spec = `node-${target.id}@${CLIENT_NODE_VERSION}`
  log(`downloading ${spec} (the official Node.js binary) into ${CACHE_DIR}`)
  const temp = mkdtempSync(join(CACHE_DIR, '.download-'))
  try {
    // Under `npm run`, the npm that runs this; otherwise the one on PATH.
    const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm']
    execFileSync(npm[0] as string, [...npm.slice(1), 'pack', spec, '--pack-destination', temp, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] })
    const tarball = join(temp, `node-${target.id}-${CLIENT_NODE_VERSION}.tgz`)
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`
    if (integrity !== NODE_INTEGRITY[target.id]) throw new Error(`${spec} from the registry has integrity ${integrity}, not the pinned ${NODE_INTEGRITY[target.id]}`)
    execFileSync('tar', ['-xzf', tarball, '-C', temp, `package/bin/${name}`])
    mkdirSync(dir, { recursive: true })
    renameSync(join(temp, 'package', 'bin', name), binary)
    return binary
  } finally {
    rmSync(temp, { recursive: true, force: true })
  }
}

/** `--target ID` (repeatable) or every target. */
function parseTargets(args: string[]): Array<ClientTarget['id']> {
  const ids = CLIENT_TARGETS.map((t) => t.id)
  const chosen: Array<ClientTarget['id']> = []
  for (let i = 0; i < args.length; i++) {
    const value = args[i] === '--target' ? args[++i] : args[i]?.startsWith('--target=') ? args[i]?.slice('--target='.length) : undefined
    const id = ids.find((t) => t === value)
    if (id === undefined) throw new Error(`usage: npm run build:client [-- --target ${ids.join('|')} ...]; got ${JSON.stringify(args[i] ?? '')}`)
    chosen.push(id)
  }
  return chosen.length > 0 ? chosen : ids
}

if (require.main === module) {
  const started = Date.now()
  buildClient({ targets: parseTargets(process.argv.slice(2)), log: (line) => process.stderr.write(`${line}\n`) }).then(
    (manifest) => {
      process.stderr.write(`dist/client: Packyard ${manifest.version} (commit ${manifest.commit}), Node ${manifest.node}, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
      for (const f of manifest.files) process.stdout.write(`${f.sha256}  dist/client/${f.file}\n`)
    },
    (err: unknown) => {
      process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
