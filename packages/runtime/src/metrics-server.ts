import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { HEADERS } from '@regatta/contracts';
import { createLogger, renderMetrics } from '@regatta/telemetry';
import { type HealthRegistry } from './health.js';

/**
 * A small admin listener of a non-HTTP service: `/metrics` (Prometheus), `/health` (liveness,
 * 200 unless down) and `/ready` (200 once ready). Port 0 picks a free port; `null` disables it.
 */
export async function startAdminServer(
  port: number,
  health: HealthRegistry,
): Promise<{ port: number; close(): Promise<void> }> {
  const log = createLogger(health.service);
  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, {
        'content-type': type,
        [HEADERS.responseTime]: (performance.now() - started).toFixed(3),
      });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      renderMetrics(req.headers.accept)
        .then(({ contentType, body }) => send(200, contentType, body))
        .catch(() => send(500, 'text/plain', 'metrics unavailable\n'));
    } else if (path === '/health' || path === '/ready') {
      health
        .report()
        .then((report) => {
          // /health is liveness: the process answers, so it is alive (restarting it would not bring a
          // dependency back); the body still says what is degraded or down. /ready gates traffic.
          const ok = path === '/health' ? true : report.ready;
          send(ok ? 200 : 503, 'application/json', JSON.stringify(report));
        })
        .catch(() => send(503, 'application/json', '{"status":"down"}'));
    } else send(404, 'application/json', '{"error":{"code":"NOT_FOUND","message":"no such route"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  log.info({ port: actual }, 'admin listener (/metrics, /health, /ready)');
  return {
    port: actual,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
