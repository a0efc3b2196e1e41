// Every client command against a real server on an ephemeral port, walking Spectro's CLI
// reference (login, push, ls, pull, tag, build) with `spectro` replaced by `packyard`. The CLI
// runs in this process through runCli, exactly as bin/packyard.js runs it (e2e.test.ts spawns
// the binary itself). Every step checks the exit code, stdout and stderr.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createWriteStream } from 'node:fs'
import { writeReproducibleArchive } from '../../src/packs/archive-write.js'
import { listeningApp, requireProgram, runCliHere, tempDir, USERS } from '../helpers.js'

const DIGEST = /sha256:[0-9a-f]{64}/
const b64 = (s: string) => Buffer.from(s).toString('base64')

/** Every regular file under `dir`, relative path → content. */
function files(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`
    if (statSync(join(dir, path)).isDirectory()) Object.assign(out, files(dir, path))
    else out[path] = readFileSync(join(dir, path)).toString('base64')
  }
  return out
}

function writeTree(dir: string, tree: Record<string, string>): string {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

t.test("Spectro's CLI reference, command by command", async (t) => {
  const root = realpathSync(tempDir(t))
  // One pack per page, so every listing has to follow the Link header.
  const { server: S, requests } = await listeningApp(t, { limits: { pagesize: 1 } })
  const userHome = join(root, 'user')
  mkdirSync(userHome)
  const env = { HOME: userHome }
  const cli = (args: string[], input?: string) => runCliHere(args, { env, ...(input === undefined ? {} : { input }) })
  const uploads = () => requests.filter((r) => r === 'POST /v1/_packs').length
  const defaultConfig = join(userHome, '.spectro', 'config.json')

  await t.test('login', async (t) => {
    const wrong = await cli(['registry', 'login', S, '--insecure', '--username', 'admin', '--password', 'nope'])
    t.equal(wrong.code, 1)
    t.equal(wrong.stdout, '')
    t.match(wrong.stderr, new RegExp(`^Error: login to ${S} failed: .+\\n$`))
    t.notOk(existsSync(defaultConfig), 'a failed login saves nothing')

    const tls = await cli(['registry', 'login', S, '--username', 'admin', '--password', USERS.admin])
    t.equal(tls.code, 1)
    t.equal(tls.stderr, `Error: ${S} does not speak HTTPS on this port (the TLS handshake got a non-TLS answer); if it serves plain HTTP, log in with: packyard registry login ${S} --insecure\n`)

    const port = await closedPort()
    const refused = await cli(['registry', 'login', `127.0.0.1:${port}`, '-i', '--username', 'admin', '--password', 'x'])
    t.equal(refused.code, 1)
    t.equal(
      refused.stderr,
      `Error: cannot connect to 127.0.0.1:${port} (plain HTTP or HTTPS: an --insecure login uses whichever the registry speaks): connection refused; check the host and port, and that the registry is running\n`,
      'an --insecure login that cannot connect claims no scheme',
    )
    const plainRefused = await cli(['registry', 'login', `http://127.0.0.1:${port}`, '-u', 'admin', '-p', 'x'])
    t.equal(plainRefused.stderr, `Error: cannot connect to 127.0.0.1:${port} (http://127.0.0.1:${port}/v1/): connection refused; check the host and port, and that the registry is running\n`, 'an http:// login names http://')

    const short = await cli(['registry', 'login', `http://${S}`, '-u', 'admin', '-p', USERS.admin, '-s', join(root, 'short-flags')])
    t.equal(short.code, 0, `-u and -p, as with spectro and docker: ${short.stderr}`)
    t.same(JSON.parse(readFileSync(join(root, 'short-flags', 'config.json'), 'utf8')), { auths: { [S]: { auth: b64(`admin:${USERS.admin}`), insecure: true } }, defaultRegistry: S })

    const ok = await cli(['registry', 'login', S, '--insecure', '--default', '--username', 'admin', '--password', USERS.admin])
    t.equal(ok.code, 0, ok.stderr)
    t.equal(ok.stdout, 'Login Succeeded\n')
    t.equal(ok.stderr, `WARNING! Your password will be stored unencrypted in ${defaultConfig}.\n${S} is now the default registry.\n`)
    t.same(JSON.parse(readFileSync(defaultConfig, 'utf8')), { auths: { [S]: { auth: b64(`admin:${USERS.admin}`), insecure: true } }, defaultRegistry: S })
    t.equal(statSync(defaultConfig).mode & 0o777, 0o600)

    // A second home, a user name and password typed at the prompts (piped here), an http:// prefix.
    const prompted = await cli(['registry', 'login', `http://${S}/`, '-s', join(root, 'reader-home')], `reader\n${USERS.reader}\n`)
    t.equal(prompted.code, 0, prompted.stderr)
    t.equal(prompted.stdout, 'Login Succeeded\n')
    t.match(prompted.stderr, `WARNING! Your password will be stored unencrypted in ${join(root, 'reader-home', 'config.json')}.\n`)
    t.same(JSON.parse(readFileSync(join(root, 'reader-home', 'config.json'), 'utf8')).auths[S], { auth: b64(`reader:${USERS.reader}`), insecure: true })

    const stdinPassword = await cli(['registry', 'login', S, '-i', '-s', join(root, 'ci-home'), '--username', 'admin', '--password-stdin'], `${USERS.admin}\n`)
    t.equal(stdinPassword.code, 0, stdinPassword.stderr)
    const noUser = await cli(['registry', 'login', S, '--password-stdin'])
    t.equal(noUser.code, 2)
    t.match(noUser.stderr, /^Error: --password-stdin needs --username.*\n\nUsage: packyard registry login/)
  })

  const hello = writeTree(join(root, 'src', 'hello'), {
    'pack.json': JSON.stringify({ name: 'hello', displayName: 'Hello', version: '1.0.0', layer: 'addon', cloudTypes: ['all'], kubeManifests: ['manifests/cm.yaml'] }, null, 2),
    'values.yaml': 'pack:\n  namespace: hello\n',
    'README.md': '# Hello\n',
    'logo.png': 'PNG',
    'manifests/cm.yaml': 'kind: ConfigMap\n',
    '.packignore': '*.tmp\n',
    'scratch.tmp': 'left out',
    '.DS_Store': 'left out',
    '.git/HEAD': 'left out',
  })
  const shipped = () => {
    const all = files(hello)
    for (const left of ['.packignore', 'scratch.tmp', '.DS_Store', '.git/HEAD']) delete all[left]
    return all
  }
  let first = ''
  let second = ''

  await t.test('push: created, refused, forced', async (t) => {
    const created = await cli(['pack', 'push', hello])
    t.equal(created.code, 0, created.stderr)
    t.equal(created.stderr, '', 'no progress bar when stdout is not a terminal')
    const m = new RegExp(`^Created hello:1\\.0\\.0 on ${S}\\nDigest: (${DIGEST.source})\\nParent tags: 1\\.0\\.x, 1\\.x\\n$`).exec(created.stdout)
    t.ok(m, created.stdout)
    first = m?.[1] as string

    const uploaded = uploads()
    const again = await cli(['pack', 'push', hello])
    t.equal(again.code, 1)
    t.equal(again.stdout, '')
    t.equal(again.stderr, `Error: hello:1.0.0 already exists on ${S} (digest ${first}); to overwrite it: packyard pack push ${hello} --force --message "what changed"\n`)
    t.equal(uploads(), uploaded, 'refused before the archive is sent')

    const noMessage = await cli(['pack', 'push', hello, '--force'])
    t.equal(noMessage.code, 2)
    t.equal(noMessage.stdout, '')
    t.match(noMessage.stderr, /^Error: --force needs --message \(-m\) saying what changed, e\.g\. -m "updated values"\n\nUsage: packyard pack push PACK_SOURCE_DIR/)

    const unchanged = await cli(['pack', 'push', hello, '-f', '-m', 'same again'])
    t.equal(unchanged.code, 0, unchanged.stderr)
    t.equal(unchanged.stdout, `Unchanged hello:1.0.0 on ${S}: the registry already has this exact archive\nDigest: ${first}\nParent tags: 1.0.x, 1.x\n`)
    const identical = await cli(['pack', 'push', hello, '-f', '-m', 'same again', '--skip-digest-check'])
    t.equal(identical.code, 0, identical.stderr)
    t.equal(identical.stdout, `Updated hello:1.0.0 on ${S}\nDigest: ${first}\nParent tags: 1.0.x, 1.x\n`, '--skip-digest-check forces the push, recorded as an update')

    // The exec bit is in the archive but not in the content digest: same content, another archive.
    chmodSync(join(hello, 'README.md'), 0o755)
    const sameContent = await cli(['pack', 'push', hello, '-f', '-m', 'exec bit'])
    t.equal(sameContent.code, 0, sameContent.stderr)
    t.equal(
      sameContent.stdout,
      `Unchanged hello:1.0.0 on ${S}: the registry already has the same content in another archive (add --skip-digest-check to replace it anyway)\nDigest: ${first}\nParent tags: 1.0.x, 1.x\n`,
    )
    const skipped = await cli(['pack', 'push', hello, '--force', '--message', 'exec bit', '--skip-digest-check'])
    t.equal(skipped.code, 0, skipped.stderr)
    const s = new RegExp(`^Updated hello:1\\.0\\.0 on ${S} \\(was ${first}\\)\\nDigest: (${DIGEST.source})\\nParent tags: 1\\.0\\.x, 1\\.x\\n$`).exec(skipped.stdout)
    t.ok(s, skipped.stdout)
    const skippedDigest = s?.[1] as string
    t.not(skippedDigest, first)

    writeFileSync(join(hello, 'values.yaml'), 'pack:\n  namespace: hello\nreplicas: 2\n')
    const changed = await cli(['pack', 'push', hello, '--force', '--message', 'two replicas', '--output', 'json'])
    t.equal(changed.code, 0, changed.stderr)
    const result = JSON.parse(changed.stdout)
    t.match(result, { name: 'hello', version: '1.0.0', tag: '1.0.0', status: 'updated', previousDigest: skippedDigest, parentTags: ['1.0.x', '1.x'] })
    second = result.digest
    t.match(second, DIGEST)
    t.not(second, first)

    const beforeReader = uploads()
    const reader = await cli(['pack', 'push', hello, '-s', join(root, 'reader-home'), '-f', '-m', 'x', '--skip-digest-check'])
    t.equal(reader.code, 1)
    t.equal(reader.stderr, `Error: user reader may read but not push to ${S}; ask an operator to add it to auth.access.writers\n`)
    const fresh = writeTree(join(root, 'src', 'fresh'), { 'pack.json': JSON.stringify({ name: 'fresh', displayName: 'Fresh', version: '1.0.0', layer: 'addon' }), 'values.yaml': '' })
    const readerNew = await cli(['-s', join(root, 'reader-home'), 'pack', 'push', fresh])
    t.equal(readerNew.code, 1)
    t.match(readerNew.stderr, /^Error: user reader may read but not push to /)
    t.equal(uploads(), beforeReader, 'a read-only user uploads nothing')

    const invalid = writeTree(join(root, 'src', 'broken'), { 'pack.json': '{"name":"broken","displayName":"B","version":"1.0.0+x","layer":"addon"}', 'values.yaml': '' })
    const bad = await cli(['pack', 'push', invalid])
    t.equal(bad.code, 1)
    t.equal(bad.stderr, `Error: invalid pack in ${invalid}: pack.json: version "1.0.0+x" cannot be used as a tag: it contains "+"; only letters, digits, ".", "_" and "-" are allowed\n`)

    // What the stock registry serves anyway is a warning: printed, the push goes through; --strict refuses it.
    const warned = writeTree(join(root, 'src', 'warned'), { 'pack.json': '{"name":"warned","displayName":"W","version":"1.0.0","layer":"addons"}', 'values.yaml': 'replicas: 1\nreplicas: 2\n' })
    const beforeStrict = uploads()
    const strict = await cli(['pack', 'push', warned, '--strict'])
    t.equal(strict.code, 1)
    t.match(strict.stderr, /^Error: invalid pack in .*: 3 problems in the pack \(strict validation: warnings are errors\): pack\.json: layer must be one of .*; neither logo\.png nor logo\.webp.*; values\.yaml: line 2, column 1: duplicate key "replicas"\n$/)
    t.equal(uploads(), beforeStrict, 'refused before any upload, YAML included')
    const lenient = await cli(['pack', 'push', warned])
    t.equal(lenient.code, 0, lenient.stderr)
    t.equal(
      lenient.stderr,
      'Warning: pack.json: layer must be one of kernel, os, k8s, cni, csi, addon; got "addons"\nWarning: neither logo.png nor logo.webp is in the pack: Palette shows a placeholder instead\nWarning: values.yaml: line 2, column 1: duplicate key "replicas"\n',
    )
    t.match(lenient.stdout, /^Created warned:1\.0\.0/)
    t.equal((await cli(['pack', 'delete', 'warned:1.0.0'])).code, 0, 'and it goes again, so the listings below stay as they were')
    const badFlag = await cli(['pack', 'push', hello, '--output', 'yaml'])
    t.equal(badFlag.code, 2)
    t.match(badFlag.stderr, /^Error: --output takes "json", not "yaml"\n/)
  })

  await t.test('more packs: a newer version and a grouped pack', async (t) => {
    const v11 = join(root, 'src', 'hello-1.1.0')
    cpSync(hello, v11, { recursive: true })
    const pj = JSON.parse(readFileSync(join(v11, 'pack.json'), 'utf8'))
    writeFileSync(join(v11, 'pack.json'), JSON.stringify({ ...pj, version: '1.1.0' }))
    const pushed = await cli(['pack', 'push', v11, '-r', S])
    t.equal(pushed.code, 0, pushed.stderr)
    t.match(pushed.stdout, /^Created hello:1\.1\.0 on .*\nParent tags: 1\.1\.x, 1\.x \(was 1\.0\.0\)\n$/s, 'the parent tags it moved say from where')

    const ubuntu = writeTree(join(root, 'src', 'ubuntu'), {
      'pack.json': JSON.stringify({ name: 'ubuntu', displayName: 'Ubuntu', version: '14.4.3', layer: 'os', group: 'lts' }),
      'values.yaml': '',
    })
    const grouped = await cli(['pack', 'push', ubuntu, '--registry-server', `https://${S}`])
    t.equal(grouped.code, 0, grouped.stderr)
    t.match(grouped.stdout, /^Created ubuntu:lts__14\.4\.3 on .*\nParent tags: lts__14\.4\.x, lts__14\.x\n$/s)
  })

  await t.test('ls and ls -n', async (t) => {
    const ls = await cli(['pack', 'ls'])
    t.equal(ls.code, 0, ls.stderr)
    t.equal(ls.stderr, '')
    const lines = ls.stdout.trimEnd().split('\n')
    t.match(lines[0], /^NAME +TAG +VERSION +PARENT TAGS +DIGEST +UPDATED$/)
    t.equal(lines.length, 4, 'three tags, every page followed')
    t.match(lines[1], new RegExp(`^hello +1\\.0\\.0 +1\\.0\\.0 +1\\.0\\.x +${second.slice(7, 19)} +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`))
    t.match(lines[2], /^hello +1\.1\.0 +1\.1\.0 +1\.1\.x,1\.x +[0-9a-f]{12} +\S+Z$/)
    t.match(lines[3], /^ubuntu +lts__14\.4\.3 +14\.4\.3 +lts__14\.4\.x,lts__14\.x +[0-9a-f]{12} +\S+Z$/)

    const filtered = await cli(['pack', 'ls', S, '--name', 'ubuntu', '--registry-server', S])
    t.equal(filtered.code, 0, filtered.stderr)
    t.same(filtered.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/)[0]), ['ubuntu'])
    const short = await cli(['pack', 'ls', '-n', 'hel'])
    t.same(short.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/).slice(0, 2).join(':')), ['hello:1.0.0', 'hello:1.1.0'])

    const json = await cli(['pack', 'ls', '--output', 'json'])
    t.equal(json.code, 0)
    t.same(JSON.parse(json.stdout).packs.map((p: { name: string }) => p.name), ['hello', 'ubuntu'])

    const two = await cli(['pack', 'ls', S, '-r', 'other:5000'])
    t.equal(two.code, 2)
    t.match(two.stderr, /^Error: two different registries given/)

    // A config.json written by hand in the spectro format, as Spectro's publishing scripts do.
    const handHome = join(root, 'hand-home')
    mkdirSync(handHome)
    writeFileSync(join(handHome, 'config.json'), `{"auths":{"${S}":{"auth":"${b64(`reader:${USERS.reader}`)}","insecure":true}},"defaultRegistry":"${S}"}`)
    const hand = await cli(['pack', 'ls', '-s', handHome, '-n', 'ubuntu'])
    t.equal(hand.code, 0, hand.stderr)
    t.match(hand.stdout, /\nubuntu +lts__14\.4\.3/)
  })

  await t.test('pull by tag and by digest', async (t) => {
    const byTag = await cli(['pack', 'pull', 'hello:1.0.0', join(root, 'pulled')])
    t.equal(byTag.code, 0, byTag.stderr)
    t.equal(byTag.stdout, `Pulled hello:1.0.0 (version 1.0.0, ${second}) to ${join(root, 'pulled', 'hello-1.0.0')}\n`)
    t.same(files(join(root, 'pulled', 'hello-1.0.0')), shipped(), 'the files pushed, byte for byte, without the left-out ones')

    const byDigest = await cli(['pack', 'pull', `hello@${second}`, join(root, 'by-digest'), '-r', S])
    t.equal(byDigest.code, 0, byDigest.stderr)
    t.same(files(join(root, 'by-digest', 'hello-1.0.0')), shipped())

    const parent = await cli(['pack', 'pull', 'hello:1.x', join(root, 'by-parent')])
    t.equal(parent.code, 0, parent.stderr)
    t.ok(existsSync(join(root, 'by-parent', 'hello-1.1.0', 'pack.json')), '1.x is the newest 1.* version')

    const twice = await cli(['pack', 'pull', 'hello:1.0.0', join(root, 'pulled')])
    t.equal(twice.code, 1)
    t.equal(twice.stderr, `Error: ${join(root, 'pulled', 'hello-1.0.0')} already exists; pull with --force to replace it\n`)
    writeFileSync(join(root, 'pulled', 'hello-1.0.0', 'stray.txt'), 'left from before')
    const replaced = await cli(['pack', 'pull', 'hello:1.0.0', join(root, 'pulled'), '--force'])
    t.equal(replaced.code, 0, replaced.stderr)
    t.same(files(join(root, 'pulled', 'hello-1.0.0')), shipped(), '--force replaces the folder: the stray file is gone')
    t.same(readdirSync(join(root, 'pulled')), ['hello-1.0.0'], 'nothing left beside it')

    const unknown = await cli(['pack', 'pull', 'hello:9.9.9', join(root, 'nothing')])
    t.equal(unknown.code, 1)
    t.match(unknown.stderr, /^Error: hello has no tag 9\.9\.9; its tags: (\S+, )*1\.x(, \S+)*\n$/, 'the tags there are')
    t.notOk(existsSync(join(root, 'nothing')))
    const grouped = await cli(['pack', 'pull', 'ubuntu:14.x', join(root, 'nothing')])
    t.equal(grouped.code, 1)
    t.equal(grouped.stderr, 'Error: ubuntu has no tag 14.x, but has lts__14.x: pull ubuntu:lts__14.x\n', 'the same label in a group')
    const nothing = await cli(['pack', 'pull', 'no-such-pack:1.0.0', join(root, 'nothing')])
    t.equal(nothing.code, 1)
    t.match(nothing.stderr, /^Error: .*no-such-pack.*\n$/)

    const noTag = await cli(['pack', 'pull', 'hello', join(root, 'nothing')])
    t.equal(noTag.code, 2)
    t.match(noTag.stderr, /^Error: "hello" names no tag; expected NAME:TAG or NAME@sha256:DIGEST .*\n\nUsage: packyard pack pull/)
  })

  await t.test('tags: add, add with a group, delete, parent tags refused', async (t) => {
    const add = await cli(['pack', 'tag', 'add', 'hello:1.0.0', 'stable'])
    t.equal(add.code, 0, add.stderr)
    t.equal(add.stdout, `Tagged hello:1.0.0 as hello:stable (${second})\n`)
    const same = await cli(['pack', 'tag', 'add', 'hello:1.0.0', 'stable'])
    t.equal(same.stdout, `hello:stable already points at hello:1.0.0 (${second})\n`)
    const move = await cli(['pack', 'tag', 'add', 'hello:1.1.0', 'stable'])
    t.equal(move.code, 1)
    t.equal(move.stderr, `Error: hello:stable already points at version 1.0.0 (${second}); delete it first to move it: packyard pack tag delete hello:stable\n`)

    const grouped = await cli(['pack', 'tag', 'add', 'ubuntu:lts__14.4.3', '14.4.3-beta', '-g', 'lts', '-r', S])
    t.equal(grouped.code, 0, grouped.stderr)
    t.match(grouped.stdout, /^Tagged ubuntu:lts__14\.4\.3 as ubuntu:lts__14\.4\.3-beta \(sha256:/)

    const parentAdd = await cli(['pack', 'tag', 'add', 'hello:1.0.0', '2.x'])
    t.equal(parentAdd.code, 1)
    t.match(parentAdd.stderr, /^Error: tag "2\.x" is a parent tag: parent tags like 1\.x and 1\.0\.x are managed by the registry/)

    const ls = await cli(['pack', 'ls'])
    t.match(ls.stdout, /\nhello +stable +1\.0\.0 +- +/)
    t.match(ls.stdout, /\nubuntu +lts__14\.4\.3-beta +14\.4\.3-beta +- +/)

    const del = await cli(['pack', 'tag', 'delete', 'hello:stable'])
    t.equal(del.code, 0, del.stderr)
    t.equal(del.stdout, `Deleted tag hello:stable (it pointed at ${second})\n`)
    const gone = await cli(['pack', 'tag', 'delete', 'hello:stable'])
    t.equal(gone.code, 1)
    t.equal(gone.stderr, 'Error: hello has no tag stable\n')

    const parent = await cli(['pack', 'tag', 'delete', 'hello:1.x'])
    t.equal(parent.code, 1)
    t.equal(parent.stderr, 'Error: cannot delete hello:1.x: tag "1.x" is a parent tag: parent tags like 1.x and 1.0.x are managed by the registry and cannot be created, moved or deleted by users\n')

    // Deleting the newest version's tag re-links the parent tags to what remains.
    const newest = await cli(['pack', 'tag', 'delete', 'hello:1.1.0'])
    t.equal(newest.code, 0, newest.stderr)
    const relinked = await cli(['pack', 'ls', '-n', 'hello'])
    t.match(relinked.stdout, /\nhello +1\.0\.0 +1\.0\.0 +1\.0\.x,1\.x +/)
  })

  await t.test('delete a version with its tags', async (t) => {
    const reader = await cli(['pack', 'delete', 'ubuntu:lts__14.4.3', '-s', join(root, 'reader-home')])
    t.equal(reader.code, 1)
    t.match(reader.stderr, /^Error: user reader may read but not push, tag or delete/)
    const parent = await cli(['pack', 'delete', 'ubuntu:lts__14.x'])
    t.equal(parent.code, 1)
    t.match(parent.stderr, /^Error: ubuntu:lts__14\.x is a parent tag/)
    const del = await cli(['pack', 'delete', 'ubuntu:lts__14.4.3'])
    t.equal(del.code, 0, del.stderr)
    t.match(del.stdout, /^Deleted ubuntu 14\.4\.3 \(sha256:[0-9a-f]{64}\) and its tags lts__14\.4\.3(, |-beta, lts__14\.4\.3)/)
    const ls = await cli(['pack', 'ls', '-n', 'ubuntu'])
    t.equal(ls.stdout.trimEnd().split('\n').length, 1, 'nothing left of ubuntu')
  })

  await t.test('build from a chart folder, and from a .tgz with -p', async (t) => {
    const chartValues = '# how many pods\nreplicaCount: 1\nimage:\n  repository: nginx  # upstream image\n'
    const chart = { 'Chart.yaml': 'apiVersion: v2\nname: web\ndescription: A web server\nversion: 0.3.0\n', 'values.yaml': chartValues, 'templates/deploy.yaml': 'kind: Deployment\n' }
    const folderPack = join(root, 'build-folder')
    writeTree(join(folderPack, 'web'), chart)
    const built = await cli(['pack', 'build', 'web', folderPack])
    t.equal(built.code, 0, built.stderr)
    t.equal(built.stdout, `Built pack web:0.3.0 in ${folderPack}: charts/web-0.3.0.tgz, pack.json, values.yaml, README.md, .packignore\n`)
    t.same(JSON.parse(readFileSync(join(folderPack, 'pack.json'), 'utf8')), {
      name: 'web',
      displayName: 'web',
      version: '0.3.0',
      layer: 'addon',
      addonType: 'system app',
      cloudTypes: ['all'],
      charts: ['charts/web-0.3.0.tgz'],
    })
    t.equal(
      readFileSync(join(folderPack, 'values.yaml'), 'utf8'),
      'pack:\n  namespace: "web"\n\ncharts:\n  web:\n    # how many pods\n    replicaCount: 1\n    image:\n      repository: nginx  # upstream image\n',
    )
    const refused = await cli(['pack', 'build', 'web', folderPack])
    t.equal(refused.code, 1)
    t.equal(refused.stderr, `Error: ${join(folderPack, 'pack.json')} already exists; pass --force to replace it\n`)
    const rebuilt = await cli(['pack', 'build', 'web', folderPack, '--force', '--version', '0.3.1'])
    t.equal(rebuilt.code, 0, rebuilt.stderr)
    t.equal(JSON.parse(readFileSync(join(folderPack, 'pack.json'), 'utf8')).version, '0.3.1')
    const pushed = await cli(['pack', 'push', folderPack])
    t.equal(pushed.code, 0, pushed.stderr)
    t.match(pushed.stdout, /^Created web:0\.3\.1 on /)
    await cli(['pack', 'pull', 'web:0.3.1', join(root, 'web-pulled')])
    t.same(Object.keys(files(join(root, 'web-pulled', 'web-0.3.1'))), ['README.md', 'charts/web-0.3.0.tgz', 'pack.json', 'values.yaml'], 'the chart source stays out of the pack')

    // A chart archive as `helm pull` leaves it, built and pushed in one go.
    const tgzPack = join(root, 'build-tgz')
    mkdirSync(tgzPack)
    const tgz = join(tgzPack, 'nginx-15.1.0.tgz')
    const nginx = { 'Chart.yaml': 'apiVersion: v2\nname: nginx\nversion: 15.1.0\n', 'values.yaml': 'service:\n  type: ClusterIP\n' }
    await pipeline(
      writeReproducibleArchive(
        'nginx',
        Object.entries(nginx).map(([path, text]) => ({ path, size: Buffer.byteLength(text), mode: 0o644, open: () => Readable.from([Buffer.from(text)]) })),
      ),
      createWriteStream(tgz),
    )
    const buildPush = await cli(['pack', 'build', 'nginx', tgzPack, '-p'])
    t.equal(buildPush.code, 0, buildPush.stderr)
    t.match(buildPush.stdout, new RegExp(`^Built pack nginx:15\\.1\\.0 in ${tgzPack}: charts/nginx-15\\.1\\.0\\.tgz, pack\\.json, values\\.yaml, \\.packignore\\nCreated nginx:15\\.1\\.0 on ${S}\\nDigest: ${DIGEST.source}\\nParent tags: 15\\.1\\.x, 15\\.x\\n$`))
    const pulled = await cli(['pack', 'pull', 'nginx:15.1.0', join(root, 'nginx-pulled')])
    t.equal(pulled.code, 0, pulled.stderr)
    const out = join(root, 'nginx-pulled', 'nginx-15.1.0')
    t.ok(readFileSync(join(out, 'charts', 'nginx-15.1.0.tgz')).equals(readFileSync(tgz)), 'the chart archive is shipped byte for byte')
    t.equal(readFileSync(join(out, 'values.yaml'), 'utf8'), 'pack:\n  namespace: "nginx"\n\ncharts:\n  nginx:\n    service:\n      type: ClusterIP\n')

    // Several charts in one pack: each gets its archive and its values; the version is asked for.
    const multi = join(root, 'build-multi')
    const several = await cli(['pack', 'build', 'combo', multi, '--chart', join(folderPack, 'web'), '--chart', tgz])
    t.equal(several.code, 1)
    t.equal(several.stderr, 'Error: several charts (web, nginx) give several versions; pass --version for the pack\n')
    const combo = await cli(['pack', 'build', 'combo', multi, '--chart', join(folderPack, 'web'), '--chart', tgz, '--version', '1.0.0'])
    t.equal(combo.code, 0, combo.stderr)
    t.equal(combo.stdout, `Built pack combo:1.0.0 in ${multi}: charts/web-0.3.0.tgz, charts/nginx-15.1.0.tgz, pack.json, values.yaml, README.md\n`)
    t.match(readFileSync(join(multi, 'values.yaml'), 'utf8'), /\ncharts:\n  web:\n    # how many pods\n(.|\n)*\n  nginx:\n    service:\n      type: ClusterIP\n$/)
    t.ok(readFileSync(join(multi, 'charts', 'web-0.3.0.tgz')).equals(readFileSync(join(folderPack, 'charts', 'web-0.3.0.tgz'))), 'a chart folder archives to the same bytes every time')
    const stray = await cli(['pack', 'build', 'combo', multi, '-r', S])
    t.equal(stray.code, 2)
    t.match(stray.stderr, /^Error: --registry-server only applies with --push\n/)

    const none = await cli(['pack', 'build', 'empty', join(root, 'no-chart-here')])
    t.equal(none.code, 1)
    t.equal(none.stderr, `Error: no Helm chart found in ${join(root, 'no-chart-here')}: put a chart folder or a chart .tgz there, or pass --chart PATH\n`)
    const badName = await cli(['pack', 'build', 'Bad_Name', folderPack])
    t.equal(badName.code, 2)
    t.match(badName.stderr, /^Error: pack name "Bad_Name" must match/)
  })

  await t.test('two clones of one pack give the same archive digest', async (t) => {
    const a = writeTree(join(root, 'clone-a', 'twin'), {
      'pack.json': JSON.stringify({ name: 'twin', displayName: 'Twin', version: '2.0.0', layer: 'addon' }),
      'values.yaml': 'a: 1\n',
      'manifests/one.yaml': 'kind: ConfigMap\n',
    })
    const b = join(root, 'clone-b', 'twin')
    cpSync(a, b, { recursive: true })
    for (const f of ['pack.json', 'values.yaml', 'manifests/one.yaml']) utimesSync(join(b, f), new Date('2011-11-11'), new Date('2011-11-11'))
    const fromA = JSON.parse((await cli(['pack', 'push', a, '--output', 'json'])).stdout)
    t.equal(fromA.status, 'created')
    const del = await cli(['pack', 'delete', `twin@${fromA.digest}`])
    t.equal(del.code, 0, del.stderr)
    const fromB = JSON.parse((await cli(['pack', 'push', b, '--output', 'json'])).stdout)
    t.equal(fromB.status, 'created')
    t.equal(fromB.digest, fromA.digest)
  })

  await t.test('logout, and what commands say without a login', async (t) => {
    const home = join(root, 'reader-home')
    const out = await cli(['registry', 'logout', '-s', home])
    t.equal(out.code, 0, out.stderr)
    t.equal(out.stdout, `Removed login credentials for ${S}\n`)
    t.same(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')), { auths: {} })
    const again = await cli(['registry', 'logout', S, '-s', home])
    t.equal(again.stdout, `Not logged in to ${S}\n`)
    const ls = await cli(['pack', 'ls', '-s', home])
    t.equal(ls.code, 1)
    t.equal(ls.stderr, `Error: not logged in to any registry (${join(home, 'config.json')} has no logins); run: packyard registry login HOST:PORT\n`)
    const other = await cli(['pack', 'ls', '-r', 'elsewhere:5000'])
    t.equal(other.code, 1)
    t.equal(other.stderr, `Error: not logged in to elsewhere:5000 (no entry in ${defaultConfig}); run: packyard registry login elsewhere:5000\n`)

    // Stale credentials: the password changed since the login.
    const stale = join(root, 'stale-home')
    mkdirSync(stale)
    writeFileSync(join(stale, 'config.json'), JSON.stringify({ auths: { [S]: { auth: b64('admin:old-password'), insecure: true } } }))
    const refused = await cli(['pack', 'ls', '-s', stale])
    t.equal(refused.code, 1)
    t.match(refused.stderr, new RegExp(`^Error: ${S} refused the credentials of user "admin": .+; log in again with: packyard registry login ${S}\\n$`))
  })

  await t.test('help on every command', async (t) => {
    for (const words of [['registry', 'login'], ['registry', 'logout'], ['pack', 'build'], ['pack', 'push'], ['pack', 'ls'], ['pack', 'pull'], ['pack', 'tag', 'add'], ['pack', 'tag', 'delete'], ['pack', 'delete']]) {
      const help = await cli([...words, '--help'])
      t.equal(help.code, 0)
      t.match(help.stdout, `Usage: packyard ${words.join(' ')}`)
      t.match(help.stdout, '-s, --home DIR')
    }
  })
})

t.test('HTTPS registry: untrusted, --insecure, and a CA in <home>/certs.d', async (t) => {
  requireProgram('openssl')
  const root = realpathSync(tempDir(t))
  const key = join(root, 'tls.key')
  const cert = join(root, 'tls.crt')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' })
  const { server: S } = await listeningApp(t, { http: { tls: { certificate: cert, key } } })
  const home = join(root, 'home')
  // The system store is left out: SSL_CERT_FILE and SSL_CERT_DIR name nothing.
  const env = { HOME: root, SSL_CERT_FILE: join(root, 'none.crt'), SSL_CERT_DIR: join(root, 'none') }
  const cli = (args: string[]) => runCliHere([...args, '-s', home], { env })
  const login = ['registry', 'login', S, '--username', 'admin', '--password', USERS.admin]

  const untrusted = await cli(login)
  t.equal(untrusted.code, 1)
  t.equal(
    untrusted.stderr,
    `Error: the TLS certificate of ${S} is not trusted (self-signed certificate); add the registry's CA certificate to the system's store (update-ca-certificates, or SSL_CERT_FILE), or put it in /etc/spectro/certs.d/${S}/ca.crt or ${home}/certs.d/${S}/ca.crt (any .crt file name), or log in with --insecure\n`,
  )
  const insecure = await cli([...login, '--insecure'])
  t.equal(insecure.code, 0, insecure.stderr)
  t.equal(insecure.stdout, 'Login Succeeded\n')

  mkdirSync(join(home, 'certs.d', S), { recursive: true })
  writeFileSync(join(home, 'certs.d', S, 'ca.crt'), readFileSync(cert))
  const trusted = await cli(login)
  t.equal(trusted.code, 0, trusted.stderr)
  t.same(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).auths[S], { auth: b64(`admin:${USERS.admin}`), insecure: false }, 'the login is no longer insecure')

  const pack = writeTree(join(root, 'tls-pack'), {
    'pack.json': JSON.stringify({ name: 'secure', displayName: 'Secure', version: '1.0.0', layer: 'addon' }),
    'values.yaml': '',
  })
  const pushed = await cli(['pack', 'push', pack])
  t.equal(pushed.code, 0, pushed.stderr)
  t.match(pushed.stdout, new RegExp(`^Created secure:1\\.0\\.0 on ${S}\\n`))
})

t.test('login to an open registry (auth: none) says that nothing was checked', async (t) => {
  const root = realpathSync(tempDir(t))
  const { server: S } = await listeningApp(t, {}, { auth: false })
  const login = await runCliHere(['registry', 'login', S, '--insecure', '--username', 'whoever', '--password', 'anything', '-s', join(root, 'home')], { env: { HOME: root } })
  t.equal(login.code, 0, login.stderr)
  t.equal(login.stdout, 'Login Succeeded (an open registry: nothing was checked)\n')
  t.match(login.stderr, `WARNING! ${S} does not check credentials: its authentication is off (auth: none), so anyone who reaches it may push, tag and delete. The user name and password were saved but not verified.\n`)

  const { server: guarded } = await listeningApp(t)
  const checked = await runCliHere(['registry', 'login', guarded, '--insecure', '--username', 'reader', '--password', USERS.reader, '-s', join(root, 'home')], { env: { HOME: root } })
  t.equal(checked.stdout, 'Login Succeeded\n')
  t.notMatch(checked.stderr, /does not check credentials/)
})
