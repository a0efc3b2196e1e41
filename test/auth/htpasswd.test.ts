import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bootstrapHtpasswd } from '../../src/auth/bootstrap.js'
import { parseHtpasswd, setHtpasswdUser, verifyPassword } from '../../src/auth/htpasswd.js'
import { requireProgram, tempDir } from '../helpers.js'

t.test('entries made by Apache htpasswd -B verify', async (t) => {
  requireProgram('htpasswd')
  const cases: Array<[string, string, string[]]> = [
    ['admin', 'admin-secret', ['-Bbn']],
    ['spectro', 'p@ss:with:colons', ['-Bbn']],
    // A cost other than htpasswd's default (5) is read from the hash; the lowest keeps it quick.
    ['cost4', 'other cost', ['-Bbn', '-C', '4']],
  ]
  for (const [user, password, flags] of cases) {
    const line = execFileSync('htpasswd', [...flags, user, password], { encoding: 'utf8' }).trim()
    const { users, problems } = parseHtpasswd(`${line}\n`)
    t.same(problems, [])
    const hash = users.get(user) as string
    t.match(hash, /^\$2y\$/)
    t.equal(await verifyPassword(password, hash), true, `${user} right password`)
    t.equal(await verifyPassword(`${password}x`, hash), false, `${user} wrong password`)
  }
})

t.test('non-bcrypt and malformed lines are reported, not accepted', async (t) => {
  const md5 = execFileSync('htpasswd', ['-mbn', 'old', 'pw'], { encoding: 'utf8' }).trim()
  const { users, problems } = parseHtpasswd(`# comment\n\n${md5}\nnocolon\n:nouser\n`)
  t.equal(users.size, 0)
  t.equal(problems.length, 3)
  t.match(problems[0], /old.*not a bcrypt hash/)
})

t.test('setHtpasswdUser writes entries Apache htpasswd can verify, keeps other users', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'auth', 'htpasswd')
  t.equal(await setHtpasswdUser(path, 'alice', 'first'), 'added')
  t.equal(await setHtpasswdUser(path, 'bob', 'second'), 'added')
  t.equal(await setHtpasswdUser(path, 'alice', 'changed'), 'updated')
  t.equal(statSync(path).mode & 0o777, 0o600)
  const { users } = parseHtpasswd(readFileSync(path, 'utf8'))
  t.same([...users.keys()], ['alice', 'bob'])
  // Apache's own tool agrees: -v verifies a password against the file.
  execFileSync('htpasswd', ['-vb', path, 'alice', 'changed'])
  execFileSync('htpasswd', ['-vb', path, 'bob', 'second'])
  t.throws(() => execFileSync('htpasswd', ['-vb', path, 'alice', 'first'], { stdio: 'pipe' }))
  await t.rejects(setHtpasswdUser(path, 'bad:name', 'x'), /invalid user name/)
})

t.test('bootstrap creates admin with a random password once', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'htpasswd')
  const root = join(dir, 'data')
  const created = await bootstrapHtpasswd(path, join(root, 'initial-admin-password'))
  t.ok(created)
  t.equal(created?.user, 'admin')
  t.ok((created?.password.length ?? 0) >= 20)
  const saved = join(root, 'initial-admin-password')
  t.equal(created?.savedTo, saved)
  t.equal(readFileSync(saved, 'utf8').trim(), created?.password)
  t.equal(statSync(saved).mode & 0o777, 0o600)
  execFileSync('htpasswd', ['-vb', path, 'admin', created?.password as string])
  t.equal(await bootstrapHtpasswd(path, join(root, 'initial-admin-password')), null, 'an existing file is left alone')
  writeFileSync(path, '')
  t.equal(await bootstrapHtpasswd(path, join(root, 'initial-admin-password')), null, 'even an empty one')
})
