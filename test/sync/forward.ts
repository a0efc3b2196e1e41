// A test's own front for an upstream registry: what the test does not intercept is passed on
// as it came (method, path, Accept) and answered as the upstream answered.

import { type IncomingMessage, request, type ServerResponse } from 'node:http'

export function forward(upstream: string, req: IncomingMessage, res: ServerResponse): void {
  const out = request(`http://${upstream}${req.url}`, { method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  out.on('error', () => res.destroy())
  out.end()
}
