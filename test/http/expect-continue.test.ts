// `Expect: 100-continue` over a real socket (inject() never goes through Node's 'checkContinue'):
// a refused client gets its 401/403 before it sends the body, and the connection is closed; an
// accepted one gets "100 Continue", sends the body, and gets the real answer.

import t from 'tap'
import { connect, type Socket } from 'node:net'
import { ADMIN, basic, listeningApp, READER, USERS } from '../helpers.js'
import { archive, multipart, packFiles } from '../pack-fixtures.js'

/** One HTTP/1.1 exchange driven by hand, reading what the server sends as it comes. */
class RawClient {
  private received = ''
  private ended = false
  private readonly waiters: Array<() => void> = []
  private readonly socket: Socket

  constructor(server: string) {
    const [host, port] = server.split(':') as [string, string]
    this.socket = connect(Number(port), host)
    this.socket.on('data', (chunk: Buffer) => this.wake((this.received += chunk.toString('latin1'))))
    this.socket.on('end', () => this.wake((this.ended = true)))
    this.socket.on('error', () => this.wake((this.ended = true)))
  }

  private wake(_: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter()
  }

  send(data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Resolves once `test` holds for what has been received, or the server closed the connection; fails after 5 s. */
  async until(test: (received: string) => boolean): Promise<string> {
    const deadline = Date.now() + 5000
    while (!test(this.received) && !this.ended) {
      if (Date.now() > deadline) throw new Error(`nothing more from the server after ${JSON.stringify(this.received)}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 100)
      })
    }
    return this.received
  }

  async closedByServer(): Promise<boolean> {
    await this.until(() => false)
    return this.ended
  }

  destroy(): void {
    this.socket.destroy()
  }
}

function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: registry\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`
}

const complete = (received: string) => {
  const end = received.indexOf('\r\n\r\n')
  if (end === -1) return false
  const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, end))
  return length !== null && received.length >= end + 4 + Number(length[1])
}

t.test('refused before the body: no credentials, wrong ones, a read-only user', async (t) => {
  const { server, requests } = await listeningApp(t)
  const body = multipart({}, await archive(packFiles()))
  const cases: Array<[string | undefined, number, string]> = [
    [undefined, 401, 'UNAUTHORIZED'],
    [basic('admin', 'wrong'), 401, 'UNAUTHORIZED'],
    [READER, 403, 'DENIED'],
  ]
  for (const [authorization, status, code] of cases) {
    const client = new RawClient(server)
    t.teardown(() => client.destroy())
    client.send(head('POST', '/v1/_packs', { ...body.headers, 'content-length': body.payload.length, expect: '100-continue', ...(authorization ? { authorization } : {}) }))
    const answer = await client.until(complete)
    t.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `${status} first, no 100 Continue`)
    t.notMatch(answer, /100 Continue/)
    t.match(answer, `"code":"${code}"`)
    t.ok(await client.closedByServer(), 'the server closes the connection instead of waiting for the body')
  }
  t.equal(requests.length, cases.length)
})

t.test('accepted: 100 Continue, then the body, then the answer', async (t) => {
  const { server } = await listeningApp(t)
  const body = multipart({}, await archive(packFiles({ name: 'continued' })))
  const client = new RawClient(server)
  t.teardown(() => client.destroy())
  client.send(head('POST', '/v1/_packs', { ...body.headers, 'content-length': body.payload.length, expect: '100-continue', authorization: ADMIN }))
  const interim = await client.until((r) => r.includes('\r\n\r\n'))
  t.equal(interim, 'HTTP/1.1 100 Continue\r\n\r\n', 'nothing but the interim answer until the body is sent')
  client.send(body.payload)
  const answer = await client.until((r) => complete(r.slice(interim.length)))
  t.match(answer.slice(interim.length), /^HTTP\/1\.1 201 /)
  t.match(answer, '"name":"continued"')
})

t.test('the same on /v2: a read-only user cannot start an upload', async (t) => {
  const { server } = await listeningApp(t)
  const client = new RawClient(server)
  t.teardown(() => client.destroy())
  const blob = Buffer.from('some layer bytes')
  client.send(head('POST', '/v2/spectro-packs/archive/x/blobs/uploads/?digest=sha256:' + '0'.repeat(64), { 'content-length': blob.length, 'content-type': 'application/octet-stream', expect: '100-continue', authorization: basic('reader', USERS.reader) }))
  const answer = await client.until(complete)
  t.match(answer, /^HTTP\/1\.1 403 /)
  t.ok(await client.closedByServer())
})

t.test('no Expect header: nothing changes', async (t) => {
  const { server } = await listeningApp(t)
  const client = new RawClient(server)
  t.teardown(() => client.destroy())
  client.send(head('GET', '/v1/', { authorization: ADMIN }))
  const answer = await client.until(complete)
  t.match(answer, /^HTTP\/1\.1 200 /)
  t.match(answer, '{"user":"admin","canPush":true}')
})
