// packyard healthcheck [CONFIG]: is the registry this config describes up? The Docker image's
// HEALTHCHECK, so the probe follows http.addr and TLS (from the config file and REGISTRY_*
// variables, as the server reads them) instead of a hard-wired port.

import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { parseLeaf } from '../../config/leaf.js'
import { type Config, configFileFor, loadConfig } from '../../config/load.js'
import { CliError, type Command, parseCommandArgs, parseFlagValue } from '../command.js'

export const healthcheckCommand: Command = {
  usage: `Usage: packyard healthcheck [CONFIG] [--timeout DURATION]

Asks the registry that CONFIG (default as for serve, with the same REGISTRY_* variables)
describes for GET /health on its own address: http.addr, over HTTPS when http.tls is set
(the certificate is not verified: this checks the server, not the name). Exits 0 when
it answers {"status":"UP"}, 1 otherwise, saying why. --timeout defaults to 5s.
A server that requires client certificates (http.tls.clientcas) cannot be probed this way.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { timeout: { type: 'string' } }, { min: 0, max: 1 })
    const timeoutMs = values.timeout === undefined ? 5000 : parseFlagValue('--timeout', values.timeout, (v) => parseLeaf('--timeout', { kind: 'duration' }, v) as number)
    const config = loadConfig({ file: configFileFor(positionals[0]), env: io.env })
    const target = probeTarget(config)
    const { status, body } = await probe(target, timeoutMs).catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot reach the registry at ${target.url}: ${err.code ?? err.message}`)
    })
    if (status !== 200) throw new CliError(`the registry at ${target.url} answered ${status}: ${body.trim()}`)
    io.stdout.write(`UP: ${target.url} answered ${body.trim()}\n`)
  },
}

interface ProbeTarget {
  url: string
  https: boolean
  host: string
  port: number
  /** The name to ask for in the TLS handshake (Let's Encrypt serves only its hosts). */
  servername: string | undefined
}

/** The registry's own address, as seen from inside its host or container. */
function probeTarget(config: Config): ProbeTarget {
  const { host, port, tls } = config.http
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  const https = tls !== null
  const servername = tls?.certificates.kind === 'letsencrypt' ? tls.certificates.hosts[0] : undefined
  return { url: `${https ? 'https' : 'http'}://${local.includes(':') ? `[${local}]` : local}:${port}/health`, https, host: local, port, servername }
}

function probe(target: ProbeTarget, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: target.host, port: target.port, path: '/health', method: 'GET', timeout: timeoutMs }
    const req = target.https
      ? httpsRequest({ ...options, rejectUnauthorized: false, ...(target.servername ? { servername: target.servername } : {}) })
      : httpRequest(options)
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })))
    req.on('error', reject)
    req.end()
  })
}
