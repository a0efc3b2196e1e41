import t from 'tap'
import { closest, editDistance } from '../../src/nearest.js'
import { Readable } from 'node:stream'
import { COMMANDS, runCli } from '../../src/cli/main.js'
import { captureStream, runCliHere, tempDir } from '../helpers.js'

const GLOBAL_FLAGS = 'Global flags (before or after the command words):\n  -s, --home DIR'

t.test('top-level help: every command, the global flags, ending with a newline', async (t) => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const help = await runCliHere(args)
    t.equal(help.code, 0, args.join(' '))
    t.equal(help.stderr, '')
    for (const c of COMMANDS) t.match(help.stdout, `\n  ${c.path.join(' ')} `)
    t.match(help.stdout, GLOBAL_FLAGS)
    t.ok(help.stdout.endsWith("Run 'packyard COMMAND --help' for a command's arguments and flags.\n"))
  }
  const bare = await runCliHere([])
  t.equal(bare.code, 2, 'no command at all: the help, and a failure for a script that forgot its command')
  t.match(bare.stdout, /^Packyard: /)
})

t.test('--version', async (t) => {
  const version = await runCliHere(['--version'])
  t.equal(version.code, 0)
  t.match(version.stdout, /^Packyard CLI Version \d+\.\d+\.\d+ \w+\/\w+ \(commit [0-9a-f]{12}\)\n$/)
  t.same(await runCliHere(['version']), version)
})

t.test('group help: pack, pack tag, registry, user', async (t) => {
  const groups: Array<[string[], string[]]> = [
    [['pack'], ['build', 'push', 'ls', 'pull', 'tag add', 'tag delete', 'delete']],
    [['pack', 'tag'], ['add', 'delete']],
    [['registry'], ['login', 'logout']],
    [['user'], ['add', 'ls', 'delete']],
  ]
  for (const [group, commands] of groups) {
    for (const args of [[...group, '--help'], ['-h', ...group], ['help', ...group]]) {
      const help = await runCliHere(args)
      t.equal(help.code, 0, args.join(' '))
      t.match(help.stdout, `\nUsage: packyard ${group.join(' ')} COMMAND [ARGS] [FLAGS]\n`)
      const listed = help.stdout.split('\n\n').find((block) => block.startsWith('Commands:'))?.split('\n').slice(1).map((l) => l.trim().split(/ {2,}/)[0])
      t.same(listed, commands, `${args.join(' ')} lists its commands`)
      t.match(help.stdout, GLOBAL_FLAGS)
      t.ok(help.stdout.endsWith('\n'))
    }
  }
  const bare = await runCliHere(['pack'])
  t.equal(bare.code, 2, 'a group alone is not a command')
  t.match(bare.stdout, /^Build, push, list, pull, tag and delete packs\n/)
})

t.test('command help, with the global flags wherever they stand', async (t) => {
  for (const args of [['pack', 'push', '--help'], ['pack', 'push', '-h'], ['-h', 'pack', 'push'], ['pack', '--help', 'push'], ['-s', '/x', 'pack', 'push', '-h'], ['help', 'pack', 'push']]) {
    const help = await runCliHere(args)
    t.equal(help.code, 0, args.join(' '))
    t.match(help.stdout, /^Upload a pack folder to the registry\n\nUsage: packyard pack push PACK_SOURCE_DIR/)
    t.match(help.stdout, GLOBAL_FLAGS)
  }
  for (const c of COMMANDS) {
    const help = await runCliHere([...c.path, '--help'])
    t.equal(help.code, 0)
    t.match(help.stdout, `${c.summary}\n\nUsage: packyard ${c.path.join(' ')}`)
  }
})

t.test('-s/--home before, between or after the command words, in every spelling', async (t) => {
  const root = tempDir(t)
  const home = `${root}/elsewhere`
  const expected = `Error: not logged in to any registry (${home}/config.json has no logins); run: packyard registry login HOST:PORT\n`
  for (const args of [
    ['-s', home, 'pack', 'ls'],
    ['--home', home, 'pack', 'ls'],
    [`--home=${home}`, 'pack', 'ls'],
    [`-s${home}`, 'pack', 'ls'],
    ['pack', '-s', home, 'ls'],
    ['pack', 'ls', '-s', home],
    ['pack', 'ls', '--home', home],
  ]) {
    const ls = await runCliHere(args, { env: { HOME: root } })
    t.same(ls, { code: 1, stdout: '', stderr: expected }, args.join(' '))
  }
  // Server commands accept the global flag too (it has no meaning there), as cobra's persistent flags do.
  const version = await runCliHere(['-s', home, 'version'])
  t.equal(version.code, 0)
})

t.test('unknown commands suggest the nearest one', async (t) => {
  const cases: Array<[string[], string, string | null]> = [
    [['pack', 'pish', 'dir'], 'pack pish', 'pack push'],
    [['pakc', 'push'], 'pakc', 'pack push'],
    [['push', 'dir'], 'push', 'pack push'],
    [['login'], 'login', 'registry login'],
    [['registry', 'loign'], 'registry loign', 'registry login'],
    [['pack', 'tags', 'add', 'x:1', 'y'], 'pack tags', 'pack tag add'],
    [['-s', '/x', 'pack', 'lss'], 'pack lss', 'pack ls'],
    [['versoin'], 'versoin', 'version'],
    [['frobnicate'], 'frobnicate', null],
  ]
  for (const [args, typed, suggestion] of cases) {
    const run = await runCliHere(args)
    t.equal(run.code, 2, args.join(' '))
    t.equal(run.stdout, '')
    t.equal(run.stderr.split('\n')[0], `Error: unknown command "${typed}"${suggestion ? `; did you mean "${suggestion}"?` : ''}`)
    t.ok(run.stderr.endsWith('\n'))
  }
  const inGroup = await runCliHere(['pack', 'pish'])
  t.match(inGroup.stderr, /\n\nBuild, push, list, pull, tag and delete packs\n\nUsage: packyard pack COMMAND/, "then the group's commands")
})

t.test('unknown options suggest the nearest one; usage errors exit 2 with the usage', async (t) => {
  const cases: Array<[string[], string]> = [
    [['pack', 'push', 'dir', '--forse'], 'unknown option "--forse"; did you mean "--force"?'],
    [['pack', 'push', 'dir', '--skip-digest'], 'unknown option "--skip-digest"; did you mean "--skip-digest-check"?'],
    [['pack', 'ls', '--registry', 'x:1'], 'unknown option "--registry"; did you mean "--registry-server"?'],
    [['pack', 'ls', '--hoem', '/x'], 'unknown option "--hoem"; did you mean "--home"?'],
    [['pack', 'ls', '-x'], 'unknown option "-x"'],
    [['pack', 'ls', '--colour'], 'unknown option "--colour"'],
    [['pack', 'push', 'dir', '-m'], "option '-m, --message <value>' argument missing"],
    [['pack', 'push'], 'missing arguments'],
    [['version', 'extra'], 'unexpected argument "extra"'],
  ]
  for (const [args, message] of cases) {
    const run = await runCliHere(args)
    t.equal(run.code, 2, args.join(' '))
    t.equal(run.stdout, '')
    t.equal(run.stderr.split('\n')[0], `Error: ${message}`)
    t.match(run.stderr, `\n\nUsage: packyard ${args[0]}`)
  }
  const before = await runCliHere(['--hme', '/x', 'pack', 'ls'])
  t.equal(before.code, 2)
  t.equal(before.stderr.split('\n')[0], 'Error: unknown option "--hme" before the command; did you mean "--home"?')
})

t.test('a bad flag value is a usage mistake (exit 2), never a config problem', async (t) => {
  const root = tempDir(t)
  const gc = await runCliHere(['garbage-collect', '--grace', '0'], { env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root } })
  t.equal(gc.code, 2)
  t.equal(gc.stderr.split('\n')[0], 'Error: --grace must be a duration such as 90s, 15m or 24h (got "0")')
  t.notMatch(gc.stderr.split('\n')[0], 'config')
  t.match(gc.stderr, '\n\nUsage: packyard garbage-collect')
})

t.test('every message starts in lower case after "Error: "', async (t) => {
  const root = tempDir(t)
  const runs = await Promise.all([
    runCliHere(['pack', 'push', `${root}/missing`], { env: { HOME: root } }),
    runCliHere(['pack', 'ls', '--bogus']),
    runCliHere(['pack', 'pull', 'hello', root]),
    runCliHere(['frobnicate']),
    runCliHere(['registry', 'login', '--password-stdin']),
  ])
  for (const run of runs) t.match(run.stderr, /^Error: [a-z"/-]/)
})

t.test('suggestions: typos within a third of the word, and abbreviations', async (t) => {
  t.equal(editDistance('pack pish', 'pack push'), 1)
  t.equal(editDistance('pakc', 'pack'), 1, 'a swap of neighbours is one edit')
  t.equal(editDistance('', 'abc'), 3)
  t.equal(closest('--forse', ['--force', '--message']), '--force')
  t.equal(closest('--skip', ['--skip-digest-check', '--force']), '--skip-digest-check')
  t.equal(closest('--re', ['--registry-server', '--recursive']), undefined, 'an ambiguous abbreviation and no near typo')
  t.equal(closest('--zzz', ['--force']), undefined)
})

t.test('the single-file client (clientOnly): the server and operator commands answer with one line', async (t) => {
  const run = async (args: string[]) => {
    const stdout = captureStream()
    const stderr = captureStream()
    const code = await runCli(args, { stdout, stderr, stdin: Readable.from([]), env: {} }, { clientOnly: true })
    return { code, stdout: stdout.text(), stderr: stderr.text() }
  }
  const operators = COMMANDS.filter((c) => c.operator)
  t.same(operators.map((c) => c.path.join(' ')), ['serve', 'user add', 'user ls', 'user delete', 'garbage-collect', 'sync', 'fsck', 'backup', 'restore', 'migrate-metadata'])
  for (const c of operators) {
    for (const args of [c.path, [...c.path, '--help'], ['help', ...c.path]]) {
      const refused = await run(args)
      t.equal(refused.code, 1, args.join(' '))
      t.equal(refused.stdout, '')
      t.equal(refused.stderr, `Error: packyard ${c.path.join(' ')} is a server command, which this single-file client does not carry; run the server from the Docker image or the npm package (npm install -g packyard)\n`)
    }
  }
  const group = await run(['user'])
  t.equal(group.code, 1, 'a group of operator commands only')
  t.equal(group.stderr.split('\n').length, 2, 'one line')

  const help = await run(['--help'])
  t.equal(help.code, 0)
  for (const c of COMMANDS) t.equal(help.stdout.includes(`\n  ${c.path.join(' ')} `), !c.operator, c.path.join(' '))
  t.match(help.stdout, '\nThe server and operator commands (serve, user, garbage-collect, sync, fsck, backup, restore, migrate-metadata) run from the Docker image or the npm package.\n')

  const version = await run(['version'])
  t.equal(version.code, 0, 'client commands run as before')
  t.same(version, await runCliHere(['version']))
})
