// Asking for a user name or password: on a terminal with a prompt (password not echoed), or
// line by line from piped standard input, or the whole of stdin with --password-stdin.

import type { Io } from './command.js'
import { CliError } from './command.js'

type TtyIn = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void }

/** Lines of stdin, read lazily and shared between prompts so each gets the next line. */
const lineBuffers = new WeakMap<NodeJS.ReadableStream, { buffered: string; ended: boolean; waiters: Array<() => void> }>()

function lineState(stdin: NodeJS.ReadableStream) {
  let state = lineBuffers.get(stdin)
  if (!state) {
    const s = { buffered: '', ended: false, waiters: [] as Array<() => void> }
    stdin.setEncoding('utf8')
    stdin.on('data', (chunk: string) => {
      s.buffered += chunk
      s.waiters.splice(0).forEach((w) => w())
    })
    stdin.on('end', () => {
      s.ended = true
      s.waiters.splice(0).forEach((w) => w())
    })
    lineBuffers.set(stdin, s)
    state = s
  }
  return state
}

async function readLine(stdin: NodeJS.ReadableStream): Promise<string | null> {
  const s = lineState(stdin)
  for (;;) {
    const nl = s.buffered.indexOf('\n')
    if (nl >= 0) {
      const line = s.buffered.slice(0, nl).replace(/\r$/, '')
      s.buffered = s.buffered.slice(nl + 1)
      if (s.buffered === '' && !s.ended) stdin.pause()
      return line
    }
    if (s.ended) {
      const rest = s.buffered
      s.buffered = ''
      return rest === '' ? null : rest
    }
    stdin.resume()
    await new Promise<void>((r) => s.waiters.push(r))
  }
}

async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  stdin.setEncoding('utf8')
  for await (const chunk of stdin) text += chunk as string
  return text
}

export async function readUser(io: Io, prompt = 'Username: '): Promise<string> {
  const stdin = io.stdin as TtyIn
  if (stdin.isTTY) io.stderr.write(prompt)
  const line = await readLine(stdin)
  if (line === null) throw new CliError('no username given (standard input is empty); pass --username')
  return line.trim()
}

export async function readPassword(io: Io, options: { fromStdin: boolean; confirm?: boolean }): Promise<string> {
  const stdin = io.stdin as TtyIn
  if (options.fromStdin) return (await readAll(stdin)).replace(/\r?\n$/, '')
  if (!stdin.isTTY || !stdin.setRawMode) {
    const line = await readLine(stdin)
    if (line === null) throw new CliError('no password given (standard input is empty); pass --password or --password-stdin')
    return line
  }
  const first = await readHidden(stdin, io, 'Password: ')
  if (options.confirm) {
    const second = await readHidden(stdin, io, 'Confirm password: ')
    if (first !== second) throw new CliError('the passwords do not match')
  }
  return first
}

function readHidden(stdin: TtyIn, io: Io, prompt: string): Promise<string> {
  io.stderr.write(prompt)
  return new Promise((resolve, reject) => {
    let value = ''
    const setRaw = stdin.setRawMode as (raw: boolean) => void
    setRaw.call(stdin, true)
    stdin.setEncoding('utf8')
    stdin.resume()
    const done = (err: Error | null) => {
      stdin.removeListener('data', onData)
      setRaw.call(stdin, false)
      stdin.pause()
      io.stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null)
        if (ch === '\u0003') return done(new CliError('cancelled'))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    stdin.on('data', onData)
  })
}
