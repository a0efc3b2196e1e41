// What the `packyard user` commands work on: the htpasswd file (--htpasswd PATH, or the one the
// config names: auth.htpasswd.path, else <root>/htpasswd), the config's writers, the root's
// initial-admin-password, which is deleted once it no longer opens the admin account, and the
// registry's audit trail, where each change is recorded.

import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { BOOTSTRAP_USER, retireInitialPassword } from '../auth/bootstrap.js'
import { readHtpasswd } from '../auth/htpasswd.js'
import { type Config, configFileFor, loadConfig } from '../config/load.js'
import { isMissing } from '../files.js'
import { type Database, openDatabase } from '../meta/db.js'
import { EventLog } from '../meta/events.js'
import { rootLayout } from '../store/layout.js'
import { CliError, type Io } from './command.js'
import { operatingSystemUser } from './operator.js'

export const USER_FILE_FLAGS = { htpasswd: { type: 'string' }, config: { type: 'string' } } as const

export const USER_FILE_USAGE = `The file is auth.htpasswd.path of the config (CONFIG: --config, else
/etc/spectro/config.yml when present, else the built-in defaults, where it is
<storage root>/htpasswd), or --htpasswd PATH.`

export interface UserFiles {
  /** The config file, undefined for the built-in defaults. */
  configFile: string | undefined
  config: Config
  htpasswd: string
}

export function userFiles(values: { htpasswd?: string | undefined; config?: string | undefined }, io: Io): UserFiles {
  const configFile = configFileFor(values.config)
  const config = loadConfig({ file: configFile, env: io.env })
  let htpasswd = values.htpasswd
  if (!htpasswd) {
    if (!config.auth) throw new CliError(`${configFile ?? 'the configuration'} turns authentication off (auth: none, or REGISTRY_AUTH=none); pass --htpasswd PATH`)
    if (config.auth.htpasswdPath === null) {
      throw new CliError('with storage: inmemory and no auth.htpasswd.path the users live in the server\'s memory; set auth.htpasswd.path or pass --htpasswd PATH')
    }
    htpasswd = config.auth.htpasswdPath
  }
  return { configFile, config, htpasswd }
}

/** The file is the one the registry of `files.config` reads. */
function isTheRegistrys(files: UserFiles): boolean {
  const path = files.config.auth?.htpasswdPath
  return typeof path === 'string' && resolve(path) === resolve(files.htpasswd)
}

/**
 * Records a change of the users in the registry's audit trail (its metadata, SQLite or
 * PostgreSQL as the config says, opened next to a running server; the storage is not needed), by the operating-system user who ran
 * the command. The change stands either way: when it cannot be recorded (another htpasswd
 * file, no database yet, in-memory storage, a database that does not open) the output says so.
 */
export async function recordUserChange(files: UserFiles, io: Io, action: 'user.add' | 'user.delete', detail: Record<string, unknown>): Promise<void> {
  const note = (why: string): void => {
    io.stdout.write(`Not recorded in the audit trail: ${why}\n`)
  }
  const { storage, database } = files.config
  if (storage.kind === 'inmemory') return note('the registry keeps its data in memory')
  if (!isTheRegistrys(files)) return note(`${files.htpasswd} is not the htpasswd file of ${files.configFile ?? 'the built-in configuration'}`)
  // SQLite: a file the server has not created yet is left alone (opening it would create it).
  if (database.kind === 'sqlite' && !existsSync(database.path)) return note(`there is no registry database at ${database.path} yet (the server creates it when it first starts)`)
  let db: Database
  try {
    db = await openDatabase(database)
  } catch (err) {
    return note(`cannot open the registry database: ${(err as Error).message}`)
  }
  try {
    await new EventLog(db).appendRegistryEvent(operatingSystemUser(), action, detail)
  } catch (err) {
    note(`cannot write to the registry database (${db.location}): ${(err as Error).message}`)
  } finally {
    await db.close()
  }
}

/** The users of the file; a missing file is an error that says who creates it. */
export async function readUsers(path: string): Promise<{ users: Map<string, string>; problems: string[] }> {
  try {
    return await readHtpasswd(path)
  } catch (err) {
    if (isMissing(err)) throw new CliError(`${path} does not exist yet (the server creates it with user ${BOOTSTRAP_USER} on its first start, or packyard user add does)`)
    throw err
  }
}

/**
 * After `user` changed in `files.htpasswd`: when that is the config's own htpasswd and admin's
 * entry no longer opens with the saved initial password, deletes the saved copy and says so.
 */
export async function retireInitialPasswordAfter(user: string, files: UserFiles, io: Io): Promise<void> {
  const { config } = files
  if (user !== BOOTSTRAP_USER || config.storage.kind === 'inmemory' || !isTheRegistrys(files)) return
  const passwordFile = rootLayout(config.storage.rootdirectory).initialAdminPassword
  const { users } = await readUsers(files.htpasswd)
  if (await retireInitialPassword(passwordFile, users.get(BOOTSTRAP_USER))) {
    io.stdout.write(`Removed ${passwordFile}: the initial ${BOOTSTRAP_USER} password no longer works\n`)
  }
}
