// TLS-ALPN-01 (RFC 8737) answered on the TLS listener itself, as distribution's autocert does, so
// only the HTTPS port needs to be reachable. The ClientHello of every new connection is read
// before the handshake starts: one offering the `acme-tls/1` protocol comes from a validation
// server and gets the challenge certificate for its SNI name from a TLS server of its own;
// every other connection goes to the HTTPS server untouched (the bytes read are put back and
// Node's TLS socket takes them from the buffer). Node's SNICallback is not told which protocols
// the client offers, so the choice cannot be made there.

import type { Socket } from 'node:net'
import tls from 'node:tls'

export const ACME_TLS_PROTOCOL = 'acme-tls/1'

export interface ClientHello {
  serverName: string | null
  alpnProtocols: string[]
}

/** A ClientHello larger than one TLS record is not a validation server's; let TLS deal with it. */
const MAX_RECORD = 16_384 + 5
/** A client that has not sent its ClientHello by then is handed to TLS, whose own timeout applies. */
const HELLO_WAIT_MS = 10_000

/**
 * The SNI name and offered ALPN protocols of the ClientHello at the start of `data`;
 * 'incomplete' when more bytes are needed, null when this is not a readable ClientHello.
 */
export function parseClientHello(data: Buffer): ClientHello | 'incomplete' | null {
  if (data.length < 5) return data.length === 0 || data[0] === 0x16 ? 'incomplete' : null
  if (data[0] !== 0x16 || data[1] !== 0x03) return null
  const recordEnd = 5 + data.readUInt16BE(3)
  if (recordEnd > MAX_RECORD) return null
  if (data.length < recordEnd) return 'incomplete'
  const r = new Reader(data.subarray(5, recordEnd))
  if (r.u8() !== 0x01) return null
  r.skip(3 + 2 + 32) // handshake length, legacy version, random
  r.skip(r.u8()) // session id
  r.skip(r.u16()) // cipher suites
  r.skip(r.u8()) // compression methods
  const hello: ClientHello = { serverName: null, alpnProtocols: [] }
  if (r.remaining() === 0) return r.ok ? hello : null
  const extensions = new Reader(r.bytes(r.u16()))
  while (extensions.ok && extensions.remaining() >= 4) {
    const type = extensions.u16()
    const body = new Reader(extensions.bytes(extensions.u16()))
    if (type === 0x0000) {
      const list = new Reader(body.bytes(body.u16()))
      while (list.ok && list.remaining() >= 3) {
        const nameType = list.u8()
        const name = list.bytes(list.u16())
        if (nameType === 0 && list.ok) hello.serverName = name.toString('latin1')
      }
    } else if (type === 0x0010) {
      const list = new Reader(body.bytes(body.u16()))
      while (list.ok && list.remaining() >= 1) {
        const protocol = list.bytes(list.u8())
        if (list.ok) hello.alpnProtocols.push(protocol.toString('latin1'))
      }
    }
  }
  return r.ok && extensions.ok ? hello : null
}

/**
 * Routes `server`'s connections: validation handshakes (ALPN `acme-tls/1`) get
 * `challengeFor(serverName)`'s certificate and are closed after the handshake; all others go
 * to `server`'s own TLS handshake.
 */
export function answerTlsAlpnChallenges(
  server: tls.Server,
  challengeFor: (serverName: string) => tls.SecureContext | undefined,
  onAnswered: (serverName: string) => void,
): void {
  const challenges = tls.createServer(
    {
      ALPNProtocols: [ACME_TLS_PROTOCOL],
      SNICallback: (name, done) => {
        const context = challengeFor(name.toLowerCase())
        if (context) done(null, context)
        else done(new Error(`no ACME challenge pending for ${name}`))
      },
    },
    (socket) => {
      onAnswered(socket.servername || '')
      socket.end()
    },
  )
  challenges.on('tlsClientError', (_err, socket) => socket.destroy())
  // tls.Server starts its handshake from its one 'connection' listener; take it over.
  const listeners = server.listeners('connection') as Array<(socket: Socket) => void>
  if (listeners.length !== 1) throw new Error(`expected one 'connection' listener on the TLS server, found ${listeners.length}`)
  const handshake = listeners[0] as (socket: Socket) => void
  server.removeListener('connection', handshake)
  server.on('connection', (socket: Socket) => {
    readClientHello(socket, (hello) => {
      if (hello?.alpnProtocols.includes(ACME_TLS_PROTOCOL)) challenges.emit('connection', socket)
      else handshake.call(server, socket)
    })
  })
}

/** Reads until the ClientHello is complete (or cannot be), puts the bytes back, then calls `done`. */
function readClientHello(socket: Socket, done: (hello: ClientHello | null) => void): void {
  let buffered = Buffer.alloc(0)
  const finish = (hello: ClientHello | null) => {
    clearTimeout(timer)
    socket.removeListener('data', onData)
    socket.removeListener('error', onError)
    socket.removeListener('close', onClose)
    socket.pause()
    if (buffered.length > 0) socket.unshift(buffered)
    done(hello)
  }
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    const hello = parseClientHello(buffered)
    if (hello !== 'incomplete') finish(hello)
  }
  const onError = () => {
    clearTimeout(timer)
    socket.destroy()
  }
  const onClose = () => clearTimeout(timer)
  const timer = setTimeout(() => finish(null), HELLO_WAIT_MS)
  socket.on('data', onData)
  socket.on('error', onError)
  socket.on('close', onClose)
}

/** Reads a TLS structure; running past the end clears `ok` instead of throwing. */
class Reader {
  ok = true
  private at = 0

  constructor(private readonly data: Buffer) {}

  remaining(): number {
    return this.data.length - this.at
  }

  u8(): number {
    return this.take(1)[0] ?? 0
  }

  u16(): number {
    const b = this.take(2)
    return b.length === 2 ? b.readUInt16BE(0) : 0
  }

  bytes(n: number): Buffer {
    return this.take(n)
  }

  skip(n: number): void {
    this.take(n)
  }

  private take(n: number): Buffer {
    if (!this.ok || this.at + n > this.data.length) {
      this.ok = false
      return Buffer.alloc(0)
    }
    const out = this.data.subarray(this.at, this.at + n)
    this.at += n
    return out
  }
}
