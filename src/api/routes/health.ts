import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

export type LifecycleState = 'starting' | 'ready' | 'stopping';

export const COMPONENT_STATUSES = ['ok', 'degraded', 'down'] as const;
export type ComponentStatus = (typeof COMPONENT_STATUSES)[number];

export interface ComponentHealth {
  status: ComponentStatus;
  latency_ms: number;
  details?: Record<string, unknown>;
  error?: string;
}

/** Checks each dependency the supervisor needs; implemented by the runtime. */
export interface HealthReporter {
  check(): Promise<Record<string, ComponentHealth>>;
  /**
   * Problems that make the process unable to serve now (empty when ready), and the agents that
   * can take work (none: tasks are accepted and park until one can).
   */
  ready(): Promise<{ problems: string[]; agentsEnabled: string[] }>;
}

const componentSchema = z.object({
  status: z.enum(COMPONENT_STATUSES),
  latency_ms: z.number(),
  details: z.record(z.string(), z.unknown()).optional(),
  error: z.string().optional(),
});

const detailedSchema = z
  .object({
    status: z.enum(COMPONENT_STATUSES),
    state: z.enum(['starting', 'ready', 'stopping']),
    components: z.record(z.string(), componentSchema),
  })
  .meta({ id: 'HealthDetailed' });

/**
 * Liveness (`/healthz`: the process answers), readiness (`/readyz`: migrations ran, the queue is
 * started and we are not shutting down) and a detailed view per dependency. They sit outside
 * /api/v1 because load balancers and orchestrators probe them by these well-known paths.
 */
export function healthRoutes(
  app: FastifyInstance,
  deps: { state: () => LifecycleState; reporter: () => HealthReporter | undefined },
): void {
  // The seed project served its probes under /api/v1: the same answers there, as aliases.
  for (const prefix of ['', '/api/v1']) probes(app, deps, prefix);
}

function probes(
  app: FastifyInstance,
  deps: { state: () => LifecycleState; reporter: () => HealthReporter | undefined },
  prefix: string,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const alias = (summary: string) => (prefix ? `${summary} (alias of the path without ${prefix})` : summary);

  api.get(
    `${prefix}/healthz`,
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: alias('Liveness'),
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  api.get(
    `${prefix}/readyz`,
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: alias(
          'Readiness: 200 once migrations ran and the queue started and while the database and event bus answer; 503 otherwise',
        ),
        response: {
          200: z.object({
            status: z.string(),
            agents_enabled: z
              .array(z.string())
              .describe(
                'Agents that can take work; none: tasks are accepted and park (`no_agent`) until one can',
              ),
          }),
          503: z.object({ status: z.string(), problems: z.array(z.string()).optional() }),
        },
      },
    },
    async (_request, reply) => {
      const state = deps.state();
      if (state !== 'ready') return reply.status(503).send({ status: state });
      const { problems, agentsEnabled } = (await deps.reporter()?.ready()) ?? {
        problems: [],
        agentsEnabled: [],
      };
      return problems.length
        ? reply.status(503).send({ status: 'unavailable', problems })
        : reply.status(200).send({ status: 'ready', agents_enabled: agentsEnabled });
    },
  );

  api.get(
    `${prefix}/health/detailed`,
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['health'],
        summary: alias('Status and latency of each component; 503 when any is down'),
        response: { 200: detailedSchema, 503: detailedSchema },
      },
    },
    async (_request, reply) => {
      const state = deps.state();
      const reporter = deps.reporter();
      const components = reporter ? await reporter.check() : {};
      const statuses = Object.values(components).map((component) => component.status);
      const status: ComponentStatus =
        state !== 'ready' || statuses.includes('down')
          ? 'down'
          : statuses.includes('degraded')
            ? 'degraded'
            : 'ok';
      return reply.status(status === 'down' ? 503 : 200).send({ status, state, components });
    },
  );
}
