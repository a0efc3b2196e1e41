// S3 for the tests: s3rver (the npm package, a real S3 REST server with SigV4 that keeps its
// objects in a temp directory) started as its own process on a free loopback port, with OpenSSL's
// legacy provider because it signs its ListObjectsV2 continuation tokens with DES; a fault
// injection proxy that can answer 503 SlowDown or reset the connection for chosen requests and
// records every request; and the settings that point Packyard at them. A test process killed
// before its teardown leaves no s3rver running (test/watchdog.ts). The AWS_* variables of
// the machine are removed from this process (and so from every server it starts), so that
// neither the SDK in the tests nor a spawned Packyard picks up someone's profile or CA bundle.

import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { request, createServer, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/paths.js'
import type { S3Settings } from '../src/store/s3.js'
import { freePort, type Teardown, tempDir } from './system.js'
import { watchOwner } from './watchdog.js'

for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name]

/** s3rver's built-in account. */
export const S3_ACCESS_KEY = 'S3RVER'
export const S3_SECRET_KEY = 'S3RVER'
export const S3_BUCKET = 'packyard'

export interface S3Server {
  endpoint: string
  bucket: string
  /** The folder s3rver keeps buckets in. */
  directory: string
  child: ChildProcess
}

/** Starts s3rver with bucket `packyard` on a free loopback port; stopped at teardown. */
export async function startS3Server(t: Teardown, buckets: string[] = [S3_BUCKET]): Promise<S3Server> {
  // The buckets in data/, beside the pid file the watchdog reads.
  const home = tempDir(t, 'packyard-s3rver-')
  const directory = join(home, 'data')
  mkdirSync(directory)
  const port = await freePort()
  const bin = join(PACKAGE_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js')
  const args = ['--openssl-legacy-provider', bin, '-d', directory, '-a', '127.0.0.1', '-p', String(port), '-s', '--no-vhost-buckets', ...buckets.flatMap((b) => ['--configure-bucket', b])]
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  writeFileSync(join(home, 's3rver.pid'), `${child.pid}\n`)
  watchOwner({ owner: process.pid, pidFile: join(home, 's3rver.pid'), signal: 'TERM', dir: home })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  while ((await statusOf(endpoint)) === 0) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`s3rver did not start (exit ${child.exitCode}): ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { endpoint, bucket: buckets[0] as string, directory, child }
}

function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.end()
  })
}

/** Store settings for `endpoint`, under a fresh key prefix unless one is given. */
export function s3Settings(endpoint: string, overrides: Partial<S3Settings> = {}): S3Settings {
  return {
    bucket: S3_BUCKET,
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    rootdirectory: `test-${randomUUID()}`,
    skipVerify: false,
    partSize: 5 * 1024 * 1024,
    encryption: null,
    storageClass: null,
    ...overrides,
  }
}

/** The storage.s3 section (and database.path) of a config using `endpoint`. */
export function s3ConfigDoc(endpoint: string, dataDir: string, rootdirectory = `test-${randomUUID()}`): Record<string, unknown> {
  return {
    storage: { s3: { bucket: S3_BUCKET, region: 'us-east-1', regionendpoint: endpoint, accesskey: S3_ACCESS_KEY, secretkey: S3_SECRET_KEY, rootdirectory, chunksize: '5MiB' } },
    database: { path: join(dataDir, 'registry.db') },
  }
}

/** The same as REGISTRY_* variables, for a spawned `packyard serve`. */
export function s3Env(endpoint: string, dataDir: string, rootdirectory = `test-${randomUUID()}`): Record<string, string> {
  return {
    REGISTRY_STORAGE: 's3',
    REGISTRY_STORAGE_S3_BUCKET: S3_BUCKET,
    REGISTRY_STORAGE_S3_REGION: 'us-east-1',
    REGISTRY_STORAGE_S3_REGIONENDPOINT: endpoint,
    REGISTRY_STORAGE_S3_ACCESSKEY: S3_ACCESS_KEY,
    REGISTRY_STORAGE_S3_SECRETKEY: S3_SECRET_KEY,
    REGISTRY_STORAGE_S3_ROOTDIRECTORY: rootdirectory,
    REGISTRY_STORAGE_S3_CHUNKSIZE: '5MiB',
    REGISTRY_DATABASE_PATH: join(dataDir, 'registry.db'),
  }
}

export type Fault = 'pass' | 'slowdown' | 'internal' | 'reset'

export interface FaultProxy {
  endpoint: string
  /** Every request seen, as "METHOD /path?query", in order. */
  requests: string[]
  /** Decides what happens to each request; passes everything until set. */
  rule: (req: IncomingMessage) => Fault
  server: Server
}

/**
 * A proxy in front of `target` that passes requests through or, as `rule` decides, answers
 * 503 SlowDown, 500 InternalError, or resets the connection before answering.
 */
export async function startFaultProxy(t: Teardown, target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  const sockets = new Set<Socket>()
  const proxy: FaultProxy = {
    endpoint: '',
    requests: [],
    rule: () => 'pass',
    server: createServer((req, res) => {
      proxy.requests.push(`${req.method} ${req.url}`)
      const fault = proxy.rule(req)
      if (fault === 'reset') {
        req.socket.destroy()
        return
      }
      if (fault === 'slowdown' || fault === 'internal') {
        const [status, code] = fault === 'slowdown' ? [503, 'SlowDown'] : [500, 'InternalError']
        req.resume()
        req.on('end', () => {
          res.writeHead(status, { 'content-type': 'application/xml', connection: 'close' })
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test</Message></Error>`)
        })
        return
      }
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      forward.on('error', () => req.socket.destroy())
      req.pipe(forward)
    }),
  }
  proxy.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
  const address = proxy.server.address()
  proxy.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        proxy.server.close(() => resolve())
      }),
  )
  return proxy
}
