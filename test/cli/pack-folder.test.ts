// Reading a pack folder for push: the .packignore subset, what is always left out, and the
// refusal of symbolic links.

import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { text } from 'node:stream/consumers'
import { collectPackFiles, packIgnoreMatcher } from '../../src/cli/pack-folder.js'

// [patterns, path, isDir, ignored]
const table: Array<[string, string, boolean, boolean]> = [
  // nothing to match
  ['', 'pack.json', false, false],
  ['# *.json\n\n   \n', 'pack.json', false, false],
  // a name without a slash matches at any depth
  ['*.md', 'README.md', false, true],
  ['*.md', 'docs/guide/intro.md', false, true],
  ['*.md', 'README.mdx', false, false],
  ['notes.txt', 'a/b/notes.txt', false, true],
  ['notes.txt', 'notes.txt.bak', false, false],
  ['?.txt', 'a.txt', false, true],
  ['?.txt', 'ab.txt', false, false],
  ['*', 'anything/at/all', false, true],
  // trailing spaces are trimmed, CRLF files work
  ['*.log   \r\n', 'x.log', false, true],
  // a trailing slash matches folders only, and then everything inside them
  ['build/', 'build', true, true],
  ['build/', 'build', false, false],
  ['build/', 'build/out.bin', false, true],
  ['build/', 'src/build/out.bin', false, true],
  // a leading slash anchors at the pack root
  ['/build', 'build', true, true],
  ['/build', 'src/build', true, false],
  ['/*.yaml', 'values.yaml', false, true],
  ['/*.yaml', 'charts/values.yaml', false, false],
  // so does a slash in the middle
  ['docs/*.md', 'docs/a.md', false, true],
  ['docs/*.md', 'x/docs/a.md', false, false],
  ['docs/*.md', 'docs/sub/a.md', false, false],
  // ** crosses folders
  ['**/tmp', 'tmp', true, true],
  ['**/tmp', 'a/b/tmp', true, true],
  ['docs/**', 'docs/a/b.md', false, true],
  ['docs/**', 'docs', true, false],
  ['a/**/z', 'a/z', false, true],
  ['a/**/z', 'a/b/c/z', false, true],
  ['a/**/z', 'b/a/z', false, false],
  ['a**b', 'aXXb', false, true],
  ['a**b', 'a/b', false, false],
  // ! re-includes; the last matching line wins
  ['*.md\n!README.md', 'README.md', false, false],
  ['*.md\n!README.md', 'CHANGES.md', false, true],
  ['!README.md\n*.md', 'README.md', false, true],
  // nothing inside a left-out folder comes back
  ['secret/\n!secret/keep.txt', 'secret/keep.txt', false, true],
  // regex characters are literal
  ['a+b(c).txt', 'a+b(c).txt', false, true],
  ['a+b(c).txt', 'aab(c).txt', false, false],
  ['file.txt', 'fileXtxt', false, false],
]

for (const [patterns, path, isDir, ignored] of table) {
  t.test(`${JSON.stringify(patterns)} ${ignored ? 'ignores' : 'keeps'} ${path}${isDir ? '/' : ''}`, async (t) => {
    t.equal(packIgnoreMatcher(patterns)(path, isDir), ignored)
  })
}

t.test('collects files: sorted, sizes, modes, content; leaves out the usual suspects', async (t) => {
  const dir = t.testdir({
    'pack.json': '{"name":"demo"}',
    'values.yaml': 'a: 1\n',
    '.DS_Store': 'junk',
    '.packignore': '# build output\nbuild/\n*.bak\n!keep.bak\n/local.yaml\n',
    'local.yaml': 'only at the root is ignored',
    'keep.bak': 'kept by !',
    'old.bak': 'ignored',
    '.git': { HEAD: 'ref: refs/heads/main', objects: { x: 'y' } },
    build: { 'out.bin': 'ignored' },
    charts: {
      'demo-1.0.0.tgz': 'chart',
      '.DS_Store': 'junk',
      'local.yaml': 'kept: not at the root',
      sub: { '.git': 'gitdir: ../../.git/modules/sub', 'a.txt': 'a' },
    },
    bin: { 'run.sh': '#!/bin/sh\n' },
    'Zed.txt': 'capitals sort first',
  })
  chmodSync(join(dir, 'bin/run.sh'), 0o755)

  const files = await collectPackFiles(dir)
  t.same(
    files.map((f) => f.path),
    ['Zed.txt', 'bin/run.sh', 'charts/demo-1.0.0.tgz', 'charts/local.yaml', 'charts/sub/a.txt', 'keep.bak', 'pack.json', 'values.yaml'],
  )
  const run = files.find((f) => f.path === 'bin/run.sh')
  t.equal((run?.mode ?? 0) & 0o111, 0o111)
  const values = files.find((f) => f.path === 'values.yaml')
  t.equal(values?.size, 5)
  t.equal(values?.absPath, join(dir, 'values.yaml'))
  t.equal(await text(values!.open()), 'a: 1\n')
})

t.test('works without a .packignore', async (t) => {
  const dir = t.testdir({ 'pack.json': '{}', 'values.yaml': '' })
  t.same(
    (await collectPackFiles(dir)).map((f) => f.path),
    ['pack.json', 'values.yaml'],
  )
})

t.test('refuses symbolic links, unless .packignore leaves them out', async (t) => {
  const dir = t.testdir({ 'pack.json': '{}', charts: {} })
  symlinkSync('/etc/passwd', join(dir, 'charts/passwd'))
  await t.rejects(collectPackFiles(dir), { message: 'symbolic links are not allowed in a pack: charts/passwd' })

  writeFileSync(join(dir, '.packignore'), 'passwd\n')
  t.same(
    (await collectPackFiles(dir)).map((f) => f.path),
    ['pack.json'],
  )
})

t.test('refuses a symbolic link to a folder', async (t) => {
  const dir = t.testdir({ 'pack.json': '{}' })
  mkdirSync(join(dir, 'real'))
  symlinkSync(join(dir, 'real'), join(dir, 'alias'))
  await t.rejects(collectPackFiles(dir), { message: /symbolic links are not allowed in a pack: alias/ })
})
