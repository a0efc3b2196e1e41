// The packyard command's standard output: to a pipe, a socket or a file it writes directly
// (without Node's stream, whose set-up costs a short command most of its own time), every
// byte in order however much there is and however slowly the reader reads, through Node's
// stream once a non-blocking descriptor is full. (What it saves is measured by the bench's
// cli scenario.)

import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { tempDir } from '../helpers.js'

/** A child that writes `count` numbered lines through standardOutput. */
const WRITER = `
const { standardOutput } = require(${JSON.stringify(join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'stdout.js'))})
const out = standardOutput()
for (let i = 0; i < Number(process.argv[1]); i++) out.write(\`line \${i}\\n\`)
`

function expected(count: number): string {
  return Array.from({ length: count }, (_, i) => `line ${i}\n`).join('')
}

async function spawnWriter(count: number, readAfterMs: number): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-e', WRITER, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: Buffer[] = []
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout.pause()
  await new Promise((r) => setTimeout(r, readAfterMs))
  child.stdout.on('data', (d: Buffer) => chunks.push(d))
  child.stdout.resume()
  await new Promise((r) => child.on('close', r))
  return { stdout: Buffer.concat(chunks).toString(), stderr }
}

t.test('a socket, as Node spawns a child', async (t) => {
  t.same(await spawnWriter(3, 0), { stdout: expected(3), stderr: '' })
})

t.test('a non-blocking socket read slowly: once it is full (EAGAIN), the rest goes through Node\'s stream, every byte in order', async (t) => {
  // Node makes its end of the socket non-blocking; 50,000 lines are far more than it holds.
  t.same(await spawnWriter(50_000, 300), { stdout: expected(50_000), stderr: '' })
})

t.test('a pipe and a file, as a shell gives them', async (t) => {
  const piped = execFileSync('sh', ['-c', `"${process.execPath}" -e "$WRITER" 20000 2>/dev/null | cat`], { env: { ...process.env, WRITER }, maxBuffer: 1 << 24 }).toString()
  t.equal(piped, expected(20_000))
  const file = join(tempDir(t), 'out.txt')
  execFileSync('sh', ['-c', `"${process.execPath}" -e "$WRITER" 3 > "${file}" 2>/dev/null`], { env: { ...process.env, WRITER } })
  t.equal(readFileSync(file, 'utf8'), expected(3))
})
