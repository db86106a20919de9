import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Metrics } from '../../metrics/metrics.ts';

/**
 * Prometheus metrics in the text exposition format (see docs/metrics.md). Scrapers authenticate
 * with a viewer token like any other reader.
 */
export function metricsRoutes(app: FastifyInstance, deps: { metrics: () => Metrics }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/metrics',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics',
        description:
          'Plain text in the Prometheus exposition format: tasks, queue, attempts, tokens and cost, ' +
          'agents and quota, HTTP, event bus and process metrics. Names and labels: docs/metrics.md.',
        response: {
          200: {
            description: 'The metrics, in the Prometheus text exposition format',
            content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: z.string() } },
          },
        },
      },
    },
    async (_request, reply) => {
      const metrics = deps.metrics();
      const text = await metrics.render();
      return reply.type(metrics.contentType).send(text);
    },
  );
}
