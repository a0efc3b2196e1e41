// Starts (`start RUNNER`) or stops (`stop RUNNER`) the PostgreSQL server of the tap run whose
// runner has pid RUNNER, for tap's before and after scripts (test/postgres-before.ts,
// test/postgres-after.ts). Under CI a server that cannot start fails the whole run; elsewhere the
// run goes on and only the tests that need PostgreSQL fail, each naming what is missing.

import { startRunPostgres, stopRunPostgres } from './postgres.js'

async function main(command: string | undefined, runner: number): Promise<void> {
  if (command === 'start') {
    const started = Date.now()
    try {
      const server = await startRunPostgres(runner)
      console.error(`# PostgreSQL for this run on 127.0.0.1:${server.port}, started in ${Date.now() - started} ms`)
    } catch (error) {
      console.error(`# PostgreSQL for this run did not start: ${(error as Error).message}`)
      if (process.env.CI === 'true') process.exitCode = 1
    }
  } else if (command === 'stop') {
    await stopRunPostgres(runner)
  } else {
    throw new Error('usage: postgres-run.js start|stop RUNNER_PID')
  }
}

main(process.argv[2], Number(process.argv[3])).catch((error: Error) => {
  console.error(`# ${error.message}`)
  process.exitCode = 1
})
