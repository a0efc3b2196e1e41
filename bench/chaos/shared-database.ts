// A second server on the same database. A server runs with its database outside its storage
// root (database.path, as the README's S3 example has it); second servers with roots of their
// own and the same database.path are started beside it. Each must stop at start-up, naming the
// database and the first server, and none may answer a request. The operator commands that
// open the database (garbage-collect, fsck, backup) must keep working beside the server. Once
// the first server is killed with SIGKILL, its stale lock must not keep a new server out.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../registries.js'
import type { ChaosContext } from './context.js'
import { probe } from './probe.js'
import { type Figure, INFO, POSITIVE, TRUE, ZERO } from './report.js'
import { ChaosServer, runCli } from './server.js'
import { Ledger, Writers } from './workload.js'

const CATEGORY = 'second server on one database'
// A refusal comes at start-up, within a second or two; a server still running then has started.
const START_LIMIT_MS = 20_000

export async function sharedDatabaseCategory(ctx: ChaosContext): Promise<Figure[]> {
  const database = join(ctx.dir, 'shared', 'registry.db')
  const first = await ChaosServer.start({ dir: join(ctx.dir, 'first'), root: join(ctx.dir, 'first', 'root'), users: ctx.users, database })
  let started = 0
  let unnamed = 0
  let slowest = 0
  let commandFailures = 0
  let tookOver = false
  try {
    const ledger = new Ledger(ctx.detail)
    await new Writers(ledger, ctx.dir, 'sdb', 2).run(first, () => ledger.acknowledged >= 6 || first.death() !== null)

    for (let attempt = 1; attempt <= ctx.settings.sharedDatabase.attempts; attempt++) {
      const port = await freePort()
      const config = join(ctx.dir, `second-${attempt}.yml`)
      writeFileSync(
        config,
        JSON.stringify({
          log: { level: 'warn' },
          storage: { filesystem: { rootdirectory: join(ctx.dir, `second-${attempt}`) } },
          database: { path: database },
          http: { addr: `127.0.0.1:${port}` },
          auth: { htpasswd: { path: ctx.users.htpasswd } },
        }),
      )
      const began = Date.now()
      const serving = runCli(['serve', config], ctx.dir, START_LIMIT_MS)
      // Watch for it answering while it runs: a second server that starts is the defect.
      let answered = false
      let exited = false
      void serving.then(() => (exited = true))
      while (!exited && !answered) {
        const o = await probe(`http://127.0.0.1:${port}`, { method: 'GET', path: '/health' }, 1000)
        answered = o.kind === 'answered'
        if (!answered) await new Promise((r) => setTimeout(r, 100))
      }
      const run = await serving
      slowest = Math.max(slowest, Date.now() - began)
      if (answered || run.code === 0 || run.code === null) {
        started++
        ctx.detail(`second server ${attempt} on ${database} started (it answered /health, exit ${run.code})`)
      } else if (!run.stderr.includes(`another Packyard process is using the database ${database}: serve on 127.0.0.1:`) || !run.stderr.includes(`pid ${first.pid}`)) {
        unnamed++
        ctx.detail(`second server ${attempt} was refused without naming the database and the first server: ${run.stderr.slice(0, 400)}`)
      }
    }

    for (const args of [['garbage-collect', first.config], ['fsck', first.config], ['backup', join(ctx.dir, 'backup'), first.config]]) {
      const run = await runCli(args, ctx.dir, 60_000)
      if (run.code !== 0) {
        commandFailures++
        ctx.detail(`packyard ${args[0]} beside the server exited ${run.code}: ${`${run.stdout}${run.stderr}`.slice(0, 400)}`)
      }
    }

    await first.kill9()
    const after = await ChaosServer.start({ dir: join(ctx.dir, 'after'), root: join(ctx.dir, 'after', 'root'), users: ctx.users, database }).catch((err: unknown) => {
      ctx.detail(`after the first server was killed, a new one on its database did not start: ${err instanceof Error ? err.message.slice(0, 600) : String(err)}`)
      return null
    })
    tookOver = after !== null
    await after?.stop()
  } finally {
    await first.stop()
  }
  ctx.progress(`second server on one database: ${started} of ${ctx.settings.sharedDatabase.attempts} started, slowest refusal ${slowest} ms`)
  const figure = (name: string, value: number | boolean, rule = ZERO, unit?: string): Figure => ({ category: CATEGORY, name, value, rule, ...(unit ? { unit } : {}) })
  return [
    figure('second servers tried (another root, the same database.path)', ctx.settings.sharedDatabase.attempts, POSITIVE),
    figure('second servers that started', started),
    figure('refused without naming the database and the first server', unnamed),
    figure('slowest refusal', slowest, INFO, 'ms'),
    figure('garbage-collect, fsck, backup beside the server that failed', commandFailures),
    figure('after the first is killed (-9), a new server takes over its lock', tookOver, TRUE),
  ]
}
