// The file paths of the pack browser, table-driven: how a path splits into archive levels
// (charts and the charts inside them), which paths are refused before any archive is read, and
// the breadcrumb of a path.

import t from 'tap'
import { crumbsOf, isArchiveName, splitFilePath } from '../../src/packs/file-paths.js'

t.test('a path splits at every archive that has more after it', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['values.yaml', ['values.yaml']],
    ['manifests/deploy.yaml', ['manifests/deploy.yaml']],
    ['charts/app-1.0.0.tgz', ['charts/app-1.0.0.tgz']],
    ['charts/app-1.0.0.tgz/app/values.yaml', ['charts/app-1.0.0.tgz', 'app/values.yaml']],
    ['charts/app.tar.gz/app/charts/sub-0.1.0.tgz/sub/templates/a.yaml', ['charts/app.tar.gz', 'app/charts/sub-0.1.0.tgz', 'sub/templates/a.yaml']],
    ['a.tgz/b.tgz/c.tgz/d.yaml', ['a.tgz', 'b.tgz', 'c.tgz', 'd.yaml']],
    ['docs/notes.tgz.txt', ['docs/notes.tgz.txt']],
    ['odd name #1.yaml', ['odd name #1.yaml']],
  ]
  for (const [path, levels] of cases) t.same(splitFilePath(path), levels, path)
})

t.test('paths that can name no file of a pack are refused with the reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /the path is empty/],
    ['../etc/passwd', /"\.\." would leave the pack/],
    ['charts/app.tgz/../../pack.json', /"\.\." would leave the pack/],
    ['manifests/..', /would leave the pack/],
    ['/etc/passwd', /relative to the pack's folder/],
    ['manifests//deploy.yaml', /empty or "\." segment/],
    ['./values.yaml', /empty or "\." segment/],
    ['manifests/', /empty or "\." segment/],
    ['manifests\\deploy.yaml', /backslash/],
    ['a\0b', /NUL/],
    ['a.tgz/b.tgz/c.tgz/d.tgz/e.yaml', /at most 3 deep/],
    ['x'.repeat(4097), /at most 4096 characters/],
  ]
  for (const [path, message] of cases) {
    t.throws(() => splitFilePath(path), { code: 'BAD_REQUEST', message }, JSON.stringify(path.slice(0, 40)))
  }
})

t.test('archives by name; breadcrumbs link the archives on the way only', async (t) => {
  const names: Array<[string, boolean]> = [['a.tgz', true], ['a.tar.gz', true], ['a.tar', false], ['a.gz', false], ['a.tgz.yaml', false]]
  for (const [name, archive] of names) t.equal(isArchiveName(name), archive, name)
  t.same(crumbsOf('charts/app.tgz/app/values.yaml'), [
    { name: 'charts', path: 'charts', page: false },
    { name: 'app.tgz', path: 'charts/app.tgz', page: true },
    { name: 'app', path: 'charts/app.tgz/app', page: false },
    { name: 'values.yaml', path: 'charts/app.tgz/app/values.yaml', page: false },
  ])
  t.same(crumbsOf('charts/app.tgz'), [
    { name: 'charts', path: 'charts', page: false },
    { name: 'app.tgz', path: 'charts/app.tgz', page: false },
  ], 'the page itself is no link')
})
