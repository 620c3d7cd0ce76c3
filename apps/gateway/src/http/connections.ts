import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Socket } from 'node:net';
import { type FastifyInstance } from 'fastify';

/**
 * Lets the gateway close promptly. On close, Node's HTTP server only reaps keep-alive sockets that
 * have finished a request; two other kinds hold `close()` until their timeouts (about a minute):
 * sockets that connected but never sent a request (fetch clients open a spare one when a caller
 * abandons a stream), and keep-alive sockets whose request was still running when close began.
 * Here the first kind is destroyed when close begins, and the second is ended as soon as its last
 * response has gone out. Requests in flight are still answered.
 */
export function installPromptClose(fastify: FastifyInstance): void {
  const server = fastify.server;
  const sockets = new Set<Socket>();
  // Responses not yet finished, per socket (more than one only with pipelining).
  const running = new Map<Socket, number>();
  let closing = false;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      running.delete(socket);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    running.set(socket, (running.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (running.get(socket) ?? 1) - 1;
      if (left > 0) {
        running.set(socket, left);
        return;
      }
      running.delete(socket);
      // The response is written out; end() lets it flush before the connection goes.
      if (closing) socket.end();
    });
  });
  fastify.addHook('preClose', (done) => {
    closing = true;
    for (const socket of sockets) if (!running.has(socket)) socket.destroy();
    done();
  });
}
