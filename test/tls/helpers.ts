// Helpers for the TLS tests: certificates made by openssl, an HTTPS request that reports the
// certificate it was shown, and Let's Encrypt's test ACME server. Pebble validates for real
// (PEBBLE_VA_ALWAYS_VALID is never set) and resolves names through pebble-challtestsrv, where a
// test host exists only once a test adds it; Packyard's listeners go on the ports pebble
// validates on (tlsPort for TLS-ALPN-01, httpPort for HTTP-01). Missing programs fail the
// tests (requireProgram), they never skip.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import https from 'node:https'
import { join } from 'node:path'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import { freePort, requireProgram, tempDir } from '../helpers.js'

interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

export interface KeyPair {
  cert: string
  key: string
}

function openssl(args: string[]): void {
  requireProgram('openssl')
  execFileSync('openssl', args, { stdio: 'pipe' })
}

/** A self-signed CA (EC P-256) in `dir`, files named after `name`. */
export function makeCa(dir: string, name: string): KeyPair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', pair.key, '-out', pair.cert, '-days', '2', '-subj', `/CN=${name}`])
  return pair
}

/**
 * A certificate signed by `ca`, for the DNS names and IP addresses in `names` (a server's) or
 * for client authentication when `names` is empty.
 */
export function makeCertificate(dir: string, name: string, ca: KeyPair, names: string[] = []): KeyPair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
  const csr = join(dir, `${name}.csr`)
  const ext = join(dir, `${name}.ext`)
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
  writeFileSync(ext, names.length > 0 ? `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n` : 'extendedKeyUsage=clientAuth\n')
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`])
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', pair.cert, '-days', '2', '-extfile', ext])
  return pair
}

export interface TlsResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
  certificate: PeerCertificate
  /** The request went over a connection an earlier request had opened. */
  reusedSocket: boolean
  localPort: number
}

export interface TlsRequest {
  port: number
  /** The SNI name (and Host header); without it no SNI is sent. */
  servername?: string
  ca?: string | Buffer
  path?: string
  agent?: https.Agent
  /** A client certificate. */
  cert?: string | Buffer
  key?: string | Buffer
}

/** GET over HTTPS to 127.0.0.1, verifying the server against `ca`. */
export function tlsGet(req: TlsRequest): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const r = https.request(
      {
        host: '127.0.0.1',
        port: req.port,
        path: req.path ?? '/health',
        agent: req.agent ?? false,
        headers: { host: req.servername ?? `127.0.0.1:${req.port}` },
        ...(req.servername ? { servername: req.servername } : {}),
        ...(req.ca ? { ca: req.ca } : {}),
        ...(req.cert ? { cert: req.cert, key: req.key } : {}),
      },
      (res) => {
        const socket = res.socket as TLSSocket
        const certificate = socket.getPeerCertificate()
        const localPort = socket.localPort ?? 0
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, certificate, reusedSocket: r.reusedSocket, localPort }))
      },
    )
    r.on('error', reject)
    r.end()
  })
}

export interface Pebble {
  directoryUrl: string
  /** Pebble's own HTTPS certificate (made here), for NODE_EXTRA_CA_CERTS of the server under test. */
  caFile: string
  /** Where pebble validates TLS-ALPN-01 and HTTP-01: Packyard must listen there. */
  tlsPort: number
  httpPort: number
  /** Makes `host` resolve to `address` for pebble. */
  addHost(host: string, address?: string): Promise<void>
  /** Pebble's issuing root, to verify what it issues. */
  root(): Promise<string>
  /** New orders pebble has received. */
  orders(): number
  output(): string
}

/** pebble and pebble-challtestsrv on free loopback ports; `validitySeconds` shortens the certificates. */
export async function startPebble(t: Teardown, options: { validitySeconds?: number } = {}): Promise<Pebble> {
  const pebbleBin = requireProgram('pebble')
  const challtestsrvBin = requireProgram('pebble-challtestsrv')
  const dir = tempDir(t, 'pebble-')
  const ports: number[] = []
  while (ports.length < 6) {
    const port = await freePort()
    if (!ports.includes(port)) ports.push(port)
  }
  const [acmePort, managementPort, dnsPort, dnsManagementPort, tlsPort, httpPort] = ports as [number, number, number, number, number, number]

  const own = { cert: join(dir, 'pebble.crt'), key: join(dir, 'pebble.key') }
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', own.key, '-out', own.cert, '-days', '2', '-subj', '/CN=pebble', '-addext', 'subjectAltName=IP:127.0.0.1'])
  const ownCa = readFileSync(own.cert)
  const config = join(dir, 'pebble-config.json')
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: own.cert,
        privateKey: own.key,
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  )

  // No default addresses: a name resolves only once a test adds it.
  const dns = run(t, challtestsrvBin, ['-defaultIPv4', '', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`], {})
  // Pebble rejects 5% of nonces by default (PEBBLE_WFE_NONCEREJECT) to exercise clients'
  // badNonce retries; acme-client retries them, but a retried POST /order-plz would count as a
  // second order in orders(), so the tests that count orders turn it off.
  const env: NodeJS.ProcessEnv = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }
  delete env.PEBBLE_VA_ALWAYS_VALID
  const pebble = run(t, pebbleBin, ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], env)

  const get = (url: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get(url, { ca: ownCa }, (res) => {
          let body = ''
          res.on('data', (d) => (body += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        })
        .on('error', reject)
    })
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`
  const deadline = Date.now() + 15_000
  for (;;) {
    const up = await get(directoryUrl).then((r) => r.status === 200, () => false)
    const dnsUp = await fetch(`http://127.0.0.1:${dnsManagementPort}/`).then(() => true, () => false)
    if (up && dnsUp) break
    if (Date.now() > deadline) throw new Error(`pebble did not start:\n${pebble.output()}\n${dns.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }

  return {
    directoryUrl,
    caFile: own.cert,
    tlsPort,
    httpPort,
    async addHost(host, address = '127.0.0.1') {
      const res = await fetch(`http://127.0.0.1:${dnsManagementPort}/add-a`, { method: 'POST', body: JSON.stringify({ host, addresses: [address] }) })
      if (res.status !== 200) throw new Error(`pebble-challtestsrv add-a ${host}: ${res.status}`)
    },
    async root() {
      const res = await get(`https://127.0.0.1:${managementPort}/roots/0`)
      if (res.status !== 200) throw new Error(`pebble /roots/0: ${res.status}`)
      return res.body
    },
    orders: () => pebble.output().split('\n').filter((l) => l.includes('POST /order-plz')).length,
    output: () => pebble.output(),
  }
}

function run(t: Teardown, program: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  return { child, output: () => output }
}
