// The plain-HTTP listener of http.tls.letsencrypt.httpaddr (port 80 in production): answers
// ACME HTTP-01 challenges (RFC 8555 §8.3) for the tokens being validated, and redirects every
// other request to the same path over HTTPS, as distribution's autocert handler does. The
// redirect names the requested host only when it is one of `hosts`, else the first of them.

import type { RequestListener } from 'node:http'

const CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/

export function httpChallengeHandler(
  hosts: string[],
  keyAuthorization: (token: string) => string | undefined,
  onAnswered: (token: string) => void,
): RequestListener {
  const known = new Set(hosts)
  return (req, res) => {
    const url = req.url ?? '/'
    const challenge = CHALLENGE_PATH.exec(url.split('?')[0] ?? '')
    if (challenge) {
      const token = challenge[1] as string
      const answer = keyAuthorization(token)
      if (answer === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no ACME challenge pending for this token\n')
        return
      }
      onAnswered(token)
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer)
      return
    }
    const requested = hostName(req.headers.host)
    const host = requested !== null && known.has(requested) ? requested : hosts[0]
    res.writeHead(308, { location: `https://${host}${url.startsWith('/') ? url : '/'}`, 'content-type': 'text/plain' }).end('use HTTPS\n')
  }
}

/** The lower-case host name of a Host header, without its port. */
function hostName(header: string | undefined): string | null {
  const m = header === undefined ? null : /^([^:[\]]+|\[[^\]]+\])(?::\d+)?$/.exec(header.trim())
  return m ? (m[1] as string).toLowerCase().replace(/\.$/, '') : null
}
