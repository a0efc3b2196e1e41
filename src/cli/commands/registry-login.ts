// packyard registry login [SERVER]: checks credentials against the registry (GET /v1/) and
// saves them in <home>/config.json in the spectro CLI's format, like `spectro registry login`.
// A registry with authentication off answers as "anonymous" whatever it is sent: the login then
// says so instead of claiming the credentials were checked.

import { CliError, type Command, parseCommandArgs, UsageError } from '../command.js'
import { defaultServer, parseServer, readClientConfig, resolveHome, setEntry, writeClientConfig } from '../client-config.js'
import { ApiError, RegistryClient } from '../http-client.js'
import { readPassword, readUser } from '../prompt.js'

export const registryLoginCommand: Command = {
  usage: `Usage: packyard registry login [SERVER] [flags]

Checks the user name and password against the registry, then saves them in
<home>/config.json (the spectro CLI's format; either CLI can use it). A registry with
authentication off (auth: none) checks nothing; the login says so. SERVER is
host:port, e.g. registry.example.com:5000; with an http:// or https:// prefix, the login
uses that scheme (http:// implies --insecure). Without SERVER, the default registry. The first login,
or one with --default, becomes the default registry of every other command.
Missing user name or password are asked for (or read line by line from standard input).

Flags:
  -i, --insecure         the registry serves plain HTTP, or HTTPS with a certificate
                         that is not trusted here (e.g. self-signed)
  -d, --default          make SERVER the default registry
  -u, --username USER    user name
  -p, --password PASS    password (visible to other local users; prefer --password-stdin)
      --password-stdin   read the password from standard input

Without --insecure the registry must present a certificate trusted by the system's
store (update-ca-certificates; SSL_CERT_FILE, SSL_CERT_DIR), by Node's own roots, or by
a .crt file in /etc/spectro/certs.d/SERVER/ or <home>/certs.d/SERVER/ (e.g. ca.crt).

Examples:
  packyard registry login registry.example.com:5000
  packyard registry login 10.0.0.5:5000 --insecure --default
  echo "$PASSWORD" | packyard registry login registry.example.com:5000 -u ci --password-stdin`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        insecure: { type: 'boolean', short: 'i' },
        default: { type: 'boolean', short: 'd' },
        username: { type: 'string', short: 'u' },
        password: { type: 'string', short: 'p' },
        'password-stdin': { type: 'boolean' },
      },
      { min: 0, max: 1 },
    )
    if (values.password !== undefined && values['password-stdin']) throw new UsageError('--password and --password-stdin cannot be used together')
    if (values['password-stdin'] && values.username === undefined) {
      throw new UsageError('--password-stdin needs --username: standard input holds only the password')
    }
    const home = resolveHome(values.home, io.env)
    const config = await readClientConfig(home)
    const requested = positionals[0] ?? defaultServer(config)
    if (requested === undefined) throw new UsageError('SERVER is missing and there is no default registry yet')
    const { server, scheme } = parseServer(requested)
    const insecure = values.insecure === true || scheme === 'http'

    const user = values.username ?? (await readUser(io))
    if (user === '') throw new CliError('the user name must not be empty')
    if (user.includes(':')) throw new CliError('a user name cannot contain ":"')
    const password = values.password ?? (await readPassword(io, { fromStdin: values['password-stdin'] === true }))
    if (password === '') throw new CliError('the password must not be empty')

    const auth = Buffer.from(`${user}:${password}`, 'utf8').toString('base64')
    const client = new RegistryClient({ server, insecure, auth, user, scheme }, { home, io })
    let answer: { user?: unknown }
    try {
      answer = (await client.json<{ user?: unknown }>('GET', '/v1/')).body
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) throw new CliError(`login to ${server} failed: ${err.reason}`)
      throw err
    }
    // An open registry (auth: none) answers every request as "anonymous", whatever it was sent.
    const open = answer.user === 'anonymous' && user !== 'anonymous'

    const wasDefault = defaultServer(config)
    setEntry(config, { server, user, password, insecure, makeDefault: values.default === true })
    const path = await writeClientConfig(config)
    io.stderr.write(`WARNING! Your password will be stored unencrypted in ${path}.\n`)
    if (open) {
      io.stderr.write(
        `WARNING! ${server} does not check credentials: its authentication is off (auth: none), so anyone who reaches it may push, tag and delete. The user name and password were saved but not verified.\n`,
      )
    }
    if (config.doc.defaultRegistry === server && wasDefault !== server) {
      io.stderr.write(`${server} is now the default registry.\n`)
    }
    io.stdout.write(open ? 'Login Succeeded (an open registry: nothing was checked)\n' : 'Login Succeeded\n')
  },
}
