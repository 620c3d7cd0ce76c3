import { counter, exemplarLabels, histogram } from '@regatta/telemetry';
import { type FastifyInstance } from 'fastify';

const duration = histogram({
  name: 'api_request_duration_seconds',
  help: 'HTTP request duration at the gateway, by method, route template and status code',
  labelNames: ['method', 'route', 'status_code'],
  // Each bucket keeps the trace id of a recent request in it (served with OpenMetrics).
  enableExemplars: true,
});
const requests = counter({
  name: 'api_requests_total',
  help: 'HTTP requests answered by the gateway, by method, route template and status code',
  labelNames: ['method', 'route', 'status_code'],
});

/** Records every response in the API metrics; `onApi` also sees it (the SLO monitor). */
export function installApiMetrics(
  fastify: FastifyInstance,
  onApi?: (ms: number, success: boolean, route: string) => void,
): void {
  fastify.addHook('onResponse', (req, reply, done) => {
    // Route templates keep label values bounded; unmatched paths share one label.
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route, status_code: String(reply.statusCode) };
    const ms = performance.now() - req.regattaStart;
    duration.observe({ labels, value: ms / 1000, exemplarLabels: exemplarLabels(req.regattaSpan) });
    requests.inc(labels);
    onApi?.(ms, reply.statusCode < 500, route);
    done();
  });
}
