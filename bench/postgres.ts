// A PostgreSQL server for a bench scenario or a chaos category, from Debian's package through the
// tests' helpers (test/postgres.ts), configured as a real one runs: fsync, full page writes and
// synchronous commit as PostgreSQL ships them, so a commit is acknowledged only once it is on disk
// and the figures are those of a deployment. Its directory is a fresh one under the system's
// temp directory, not under the run's scratch directory: as root the server runs as the postgres
// user, which must be able to traverse the directory's parents. One database, `packyard`, is
// created for the registry. Whatever happens the server is stopped and its directory removed:
// by the finally below, or, when the run dies without running it (a signal, SIGKILL), by the
// tests' watchdog, which stops the server once this process is gone.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from 'pg'
import { postgresUrl, startPostgres, stopPostgres } from '../test/postgres.js'

const DATABASE = 'packyard'

/** Runs `use` with the URL of an empty database on a durable PostgreSQL server started for it. */
export async function withPostgres<T>(use: (databaseUrl: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'packyard-bench-postgres-'))
  try {
    const server = await startPostgres(dir, { durable: true })
    try {
      const admin = new Client({ connectionString: postgresUrl(server) })
      await admin.connect()
      try {
        await admin.query(`CREATE DATABASE ${DATABASE}`)
      } finally {
        await admin.end()
      }
      return await use(postgresUrl(server, DATABASE))
    } finally {
      if (server.running) await stopPostgres(server)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
