// An upstream over HTTPS: its certificate verified by default (refused when nobody trusted
// vouches for it), trusted through certdir, or not verified with tlsverify: false.

import t from 'tap'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { listeningApp, requireProgram, runCliHere, tempDir } from '../helpers.js'
import { pushPack } from '../pack-fixtures.js'
import { makeCa, makeCertificate } from '../tls/helpers.js'

t.test('TLS verification of an upstream: on by default, certdir, tlsverify: false', async (t) => {
  requireProgram('openssl')
  const dir = tempDir(t)
  const ca = makeCa(dir, 'upstream-ca')
  const pair = makeCertificate(dir, 'upstream', ca, ['127.0.0.1'])
  const upstream = await listeningApp(t, { http: { tls: { certificate: pair.cert, key: pair.key } } }, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  const certdir = join(dir, 'certs')
  mkdirSync(certdir)
  copyFileSync(ca.cert, join(certdir, 'ca.crt'))

  const sync = async (name: string, entry: Record<string, unknown>) => {
    const file = join(dir, `${name}.yml`)
    writeFileSync(file, stringify({ storage: { filesystem: { rootdirectory: join(dir, name) } }, auth: 'none', sync: { registries: [{ url: `https://${upstream.server}`, retries: 0, ...entry }] } }))
    return runCliHere(['sync', file, '--once'])
  }
  const untrusted = await sync('untrusted', {})
  t.equal(untrusted.code, 1)
  t.match(untrusted.stdout, /failed +cannot reach https:\/\/127\.0\.0\.1:\d+: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/)
  const trusted = await sync('trusted', { certdir })
  t.equal(trusted.code, 0, trusted.stdout)
  t.match(trusted.stdout, /copied 1 pack /)
  const unverified = await sync('unverified', { tlsverify: false })
  t.equal(unverified.code, 0, unverified.stdout)
  t.match(unverified.stdout, /copied 1 pack /)
})
