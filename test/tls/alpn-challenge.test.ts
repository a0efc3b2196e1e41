// The ClientHello reader that routes TLS-ALPN-01 validations: ClientHellos sent by Node's own
// TLS client (TLS 1.3 and 1.2, with and without SNI and ALPN), every prefix of one, and bytes
// that are not a ClientHello.

import t from 'tap'
import { createServer, type Socket } from 'node:net'
import tls from 'node:tls'
import { parseClientHello } from '../../src/tls/alpn-challenge.js'

/** The first bytes a real TLS client sends for `options`. */
async function clientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  let socket: Socket | undefined
  const server = createServer((s) => {
    socket = s
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const client = tls.connect({ host: '127.0.0.1', port, ...options })
      client.on('error', () => undefined)
      let received = Buffer.alloc(0)
      const poll = setInterval(() => {
        const data = socket?.read() as Buffer | null | undefined
        if (data) received = Buffer.concat([received, data])
        if (received.length >= 5 && received.length >= 5 + received.readUInt16BE(3)) {
          clearInterval(poll)
          clearTimeout(timeout)
          client.destroy()
          resolve(received)
        }
      }, 10)
      const timeout = setTimeout(() => {
        clearInterval(poll)
        reject(new Error('no ClientHello'))
      }, 5000)
    })
  } finally {
    socket?.destroy()
    server.close()
  }
}

t.test('ClientHellos from a real TLS client', async (t) => {
  const cases: Array<[string, tls.ConnectionOptions, { serverName: string | null; alpnProtocols: string[] }]> = [
    ['a validation server', { servername: 'registry.test', ALPNProtocols: ['acme-tls/1'] }, { serverName: 'registry.test', alpnProtocols: ['acme-tls/1'] }],
    ['a browser-like client', { servername: 'registry.test', ALPNProtocols: ['h2', 'http/1.1'] }, { serverName: 'registry.test', alpnProtocols: ['h2', 'http/1.1'] }],
    ['no SNI (an IP address), no ALPN', {}, { serverName: null, alpnProtocols: [] }],
    ['TLS 1.2 only', { servername: 'registry.test', ALPNProtocols: ['acme-tls/1'], maxVersion: 'TLSv1.2' }, { serverName: 'registry.test', alpnProtocols: ['acme-tls/1'] }],
  ]
  for (const [name, options, want] of cases) {
    const hello = await clientHello(options)
    t.same(parseClientHello(hello), want, name)
    let incomplete = 0
    for (let n = 0; n < hello.length; n++) if (parseClientHello(hello.subarray(0, n)) === 'incomplete') incomplete++
    t.equal(incomplete, hello.length, `${name}: every prefix asks for more bytes`)
    t.same(parseClientHello(Buffer.concat([hello, Buffer.from('trailing')])), want, `${name}: bytes after the record are left alone`)
  }
})

t.test('bytes that are not a readable ClientHello', async (t) => {
  const hello = await clientHello({ servername: 'registry.test', ALPNProtocols: ['acme-tls/1'] })
  const cut = Buffer.from(hello)
  cut.writeUInt16BE(cut.readUInt16BE(3) - 10, 3) // the record ends inside the extensions
  const notHello = Buffer.from(hello)
  notHello[5] = 0x02 // a ServerHello
  const huge = Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff])
  const cases: Array<[string, Buffer]> = [
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: registry.test\r\n\r\n')],
    ['one byte of plain HTTP', Buffer.from('G')],
    ['a record cut short', cut],
    ['another handshake message', notHello],
    ['a record longer than TLS allows', huge],
  ]
  for (const [name, bytes] of cases) t.equal(parseClientHello(bytes), null, name)
})
