// nginx (Debian's `nginx` package) in front of several servers, for the tests of Packyard's
// replicas: plain round-robin with no stickiness and no server ever marked down, request and
// response bodies streamed both ways (no size limit, no buffering), the Host header kept, and
// optionally a directory served through X-Accel-Redirect. The proxy settings are the repo's own
// deploy/nginx-proxy.conf (and deploy/nginx-accel.conf in the accel location), included as they
// are, so the tests run through what operators deploy;
// only the upstream block differs (here no replica is ever marked down). Everything nginx
// writes (config, pid, error log, temp files) stays in a temp dir; nothing is logged per
// request. A missing nginx fails, naming the package; it is never skipped.

import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PACKAGE_ROOT } from '../src/paths.js'
import { freePort, requireProgram, type Teardown, tempDir } from './system.js'
import { watchOwner } from './watchdog.js'

/** The proxy directives of deploy/nginx-ha.conf's server block, shared with the tests. */
export const PROXY_SETTINGS = join(PACKAGE_ROOT, 'deploy', 'nginx-proxy.conf')

/**
 * Where the `accel` directory is served: an upstream answers `X-Accel-Redirect: <prefix><path>`.
 * Packyard's storage.filesystem.accelredirect in the tests and the bench, with `accel` the root's blobs/.
 */
export const ACCEL_PREFIX = '/_packyard/blobs/'

export interface NginxOptions {
  /** A directory nginx serves under ACCEL_PREFIX, only to an upstream's X-Accel-Redirect. */
  accel?: string
}

export interface Nginx {
  /** http://127.0.0.1:PORT */
  url: string
  port: number
  /** Where its config, pid file and error log are. */
  dir: string
}

/** Debian's nginx is in /usr/sbin, which is on root's PATH but not always on a user's. */
export function nginxBinary(): string {
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : requireProgram('nginx')
}

/** The accel location's directives but its alias (internal, the headers passed on), shared with deploy/nginx-ha.conf. */
export const ACCEL_SETTINGS = join(PACKAGE_ROOT, 'deploy', 'nginx-accel.conf')

function accelLocation(dir: string): string {
  return `    location ${ACCEL_PREFIX} {
      alias ${dir}/;
      include ${ACCEL_SETTINGS};
    }
`
}

function config(dir: string, port: number, upstreams: string[], options: NginxOptions): string {
  const temp = (name: string) => join(dir, name)
  // Workers as root too when nginx runs as root: the files they serve are in test temp dirs,
  // private to root (otherwise they would run as nobody).
  const user = process.getuid?.() === 0 ? 'user root;\n' : ''
  return `${user}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events {
  worker_connections 1024;
}
http {
  access_log off;
  # As Debian's nginx.conf: files (X-Accel-Redirect) go from the page cache to the socket in the kernel.
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${temp('client-body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  default_type application/octet-stream;
  upstream packyard {
${upstreams.map((upstream) => `    server ${upstream} max_fails=0;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    include ${PROXY_SETTINGS};
    location / {
      proxy_pass http://packyard;
    }
${options.accel === undefined ? '' : accelLocation(options.accel)}  }
}
`
}

/**
 * nginx on a free loopback port in front of `upstreams` (host:port each), stopped at teardown.
 * One worker, so requests alternate between the upstreams in order.
 */
export async function startNginx(t: Teardown, upstreams: string[], options: NginxOptions = {}): Promise<Nginx> {
  const nginx = nginxBinary()
  const dir = tempDir(t, 'packyard-nginx-')
  const port = await freePort()
  const file = join(dir, 'nginx.conf')
  const errorLog = join(dir, 'error.log')
  writeFileSync(file, config(dir, port, upstreams, options))
  // In the foreground, as this process's child: its exit is seen, and its pid known at once.
  const child = spawn(nginx, ['-c', file, '-e', errorLog, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  watchOwner({ owner: process.pid, pidFile: join(dir, 'nginx.pid'), signal: 'TERM', dir })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  while (!(await accepts(port))) {
    if (child.exitCode !== null) {
      throw new Error(`nginx did not start: ${stderr.trim()}${existsSync(errorLog) ? `\n${readFileSync(errorLog, 'utf8')}` : ''}`)
    }
    await sleep(20)
  }
  return { url: `http://127.0.0.1:${port}`, port, dir }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}
