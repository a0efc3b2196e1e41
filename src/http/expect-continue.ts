// `Expect: 100-continue`: a client that sends it waits for "100 Continue" before it sends the
// body, so an upload that will be refused costs it nothing. Once something listens for Node's
// 'checkContinue' event, the server leaves that answer to us: the request goes to Fastify like
// any other, and the 100 is sent only when every onRequest hook (authentication, the writer
// check) has let it through, just before the body is read. A request they refuse is answered
// 401/403 at once, and Node then closes the connection rather than wait for a body that the
// client will not send.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'

export function honourExpectContinue(app: FastifyInstance): void {
  const waiting = new WeakSet<IncomingMessage>()
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    waiting.add(req)
    app.server.emit('request', req, res)
  })
  // preParsing runs after all onRequest hooks, whatever plugin added them, and before the body is read.
  app.addHook('preParsing', async (request, reply, payload) => {
    if (waiting.delete(request.raw)) reply.raw.writeContinue()
    return payload
  })
}
