// One chunked upload spread over two `packyard serve` processes sharing one PostgreSQL database
// and one blob store (a filesystem root both mount, or a bucket): the POST, the PATCHes and the
// closing PUT each go to either replica, as a round-robin load balancer sends them, and the
// blob comes out whole on both; a chunk sent to one replica while the other still receives one
// on the same upload waits for it instead of interleaving.

import t from 'tap'
import { createHash, randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { join } from 'node:path'
import { isRequestLine, makeHtpasswd, startServer, tempDir } from '../helpers.js'
import { freshDatabase } from '../postgres.js'
import { s3Env, startS3Server } from '../s3-helpers.js'
import type { Teardown } from '../system.js'

const MiB = 1024 * 1024
const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

interface Replica {
  url: string
  authorization: string
  serverErrors: () => Array<Record<string, unknown>>
}

/** `packyard serve` with `env` (the shared database and storage), a directory and htpasswd of its own. */
async function startReplica(t: Teardown, env: NodeJS.ProcessEnv): Promise<Replica> {
  const cwd = tempDir(t, 'packyard-replica-')
  const htpasswd = makeHtpasswd(cwd, { admin: 'secret' })
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: htpasswd, ...env }, cwd)
  return {
    url: server.url,
    authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}`,
    serverErrors: () => server.logs().filter((l) => isRequestLine(l) && Number(l.status) >= 500),
  }
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One request; `body` is sent in pieces `pauseMs` apart when it is an array. */
function send(server: Replica, method: string, path: string, headers: Record<string, string> = {}, body: Buffer | Buffer[] = Buffer.alloc(0), pauseMs = 0): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const pieces = Array.isArray(body) ? body : [body]
    const length = pieces.reduce((n, p) => n + p.length, 0)
    const req = request(`${server.url}${path}`, { method, headers: { authorization: server.authorization, 'content-length': String(length), ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    void (async () => {
      for (const piece of pieces) {
        req.write(piece)
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
      }
      req.end()
    })()
  })
}

function pattern(size: number): Buffer {
  const data = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32BE((i * 2654435761) >>> 0, i)
  return data
}

async function twoReplicas(t: Teardown, storage: 'filesystem' | 's3'): Promise<[Replica, Replica]> {
  const env: NodeJS.ProcessEnv = { REGISTRY_DATABASE_URL: await freshDatabase(t) }
  if (storage === 'filesystem') {
    env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY = join(tempDir(t), 'shared-root')
  } else {
    const s3 = await startS3Server(t)
    const { REGISTRY_DATABASE_PATH: _local, ...bucket } = s3Env(s3.endpoint, tempDir(t), `test-${randomUUID()}`)
    Object.assign(env, bucket)
  }
  return [await startReplica(t, env), await startReplica(t, env)]
}

for (const storage of ['filesystem', 's3'] as const) {
  t.test(`${storage}: POST on A, PATCH on B, PATCH on A, PUT on B; a chunk racing another waits its turn`, async (t) => {
    const [a, b] = await twoReplicas(t, storage)
    const data = pattern(12 * MiB + 11)
    const start = await send(a, 'POST', '/v2/team/app/blobs/uploads/')
    t.equal(start.status, 202)
    const location = start.headers.location as string
    const patch = (on: Replica, from: number, to: number) =>
      send(on, 'PATCH', location, { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` }, data.subarray(from, to))
    t.equal((await patch(b, 0, 3 * MiB)).status, 202)
    t.equal((await patch(a, 3 * MiB, 7 * MiB)).status, 202)

    // A slow chunk on B, and the same bytes sent to A meanwhile (a client retrying on another
    // replica): A's waits for B's and is then refused at that offset; nothing interleaves.
    const slowStarted = Date.now()
    const slow = send(b, 'PATCH', location, { 'content-type': 'application/octet-stream', 'content-range': `${7 * MiB}-${9 * MiB - 1}` }, [data.subarray(7 * MiB, 8 * MiB), data.subarray(8 * MiB, 9 * MiB)], 700)
    await new Promise((r) => setTimeout(r, 300))
    const racing = await patch(a, 7 * MiB, 9 * MiB)
    const racingAnswered = Date.now()
    t.equal((await slow).status, 202, "B's chunk lands")
    t.equal(racing.status, 416, "A's copy of it was refused at that offset")
    t.ok(racingAnswered - slowStarted >= 700, "and only once B's chunk (its last bytes sent 0.7 s in) had landed")
    const status = await send(a, 'GET', location)
    t.equal(status.status, 204)
    t.equal(status.headers.range, `0-${9 * MiB - 1}`, 'either replica tells the size')

    const put = await send(b, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha(data)}`, { 'content-type': 'application/octet-stream' }, data.subarray(9 * MiB))
    t.equal(put.status, 201, put.body.toString())
    for (const on of [a, b]) {
      const got = await send(on, 'GET', `/v2/team/app/blobs/${sha(data)}`)
      t.equal(got.status, 200)
      t.ok(got.body.equals(data), 'the blob is whole on either replica')
      t.same(on.serverErrors(), [], 'no 5xx')
    }
  })
}
