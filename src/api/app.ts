import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { EffectiveAuthMode } from '../auth/auth-mode.ts';
import type { TokenService } from '../auth/token-service.ts';
import { AppError } from '../core/errors.ts';
import type { EventBus } from '../events/bus.ts';
import type { GitHubService } from '../github/github-service.ts';
import type { MemoryService } from '../memory/memory-service.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Notifier } from '../notify/notifier.ts';
import type { AgentPool } from '../pool/agent-pool.ts';
import type { ScheduleService } from '../schedules/schedule-service.ts';
import type { Db } from '../store/database.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { installAccessControl } from './access.ts';
import { installCors } from './cors.ts';
import { installErrorHandling, send } from './error-handler.ts';
import { openapiTransform, openapiTransformObject } from './openapi.ts';
import { RateLimiter } from './rate-limit.ts';
import { agentRoutes } from './routes/agents.ts';
import { auditRoutes } from './routes/audit.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { githubAdminRoutes, githubRoutes } from './routes/github.ts';
import { type HealthReporter, healthRoutes, type LifecycleState } from './routes/health.ts';
import { mcpRoutes } from './routes/mcp.ts';
import { memoryRoutes } from './routes/memory.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { type SlackSettings, slackRoutes } from './routes/slack.ts';
import { taskEventRoutes } from './routes/task-events.ts';
import { taskRoutes } from './routes/tasks.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { findUnstorableText } from './storable-text.ts';

export const API_PREFIX = '/api/v1';

/** What the HTTP layer needs from the rest of the supervisor. */
export interface ApiServices {
  tasks: TaskService;
  pool: AgentPool;
  bus: EventBus;
  health: HealthReporter;
  tokens: TokenService;
  notifier: Notifier;
  /** The database, for routes that only read it (the audit trail). */
  db: Db;
  schedules: ScheduleService;
  memory: MemoryService;
  /** The GitHub edge, when GitHub is configured. */
  github?: GitHubService;
  /** Slack's Approve and Deny buttons, when SLACK_SIGNING_SECRET is set. */
  slack?: SlackSettings;
}

export interface AppDeps {
  logger: Logger;
  maxBodyBytes: number;
  version: string;
  /** Where the process is in its life; requests other than health probes need `ready`. */
  state: () => LifecycleState;
  /** The services, once they are up (undefined while starting). */
  services: () => ApiServices | undefined;
  /** Serve the task and agent routes; a worker process serves only the health probes. */
  apiRoutes?: boolean;
  /** Prometheus metrics: HTTP requests are timed and `GET /api/v1/metrics` serves them. */
  metrics?: Metrics;
  security: {
    authMode: EffectiveAuthMode;
    corsOrigins: readonly string[];
    submitPerMinute: number;
    submitPerMinutePerIp: number;
  };
}

/**
 * Builds the HTTP API without listening, so tests drive it with `inject()` and the runtime decides
 * when to open the port. Route schemas are zod: they validate requests and produce /openapi.json.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const services = (): ApiServices => {
    const current = deps.services();
    if (!current || deps.state() === 'starting') {
      throw new AppError('not_ready', 'the supervisor is still starting (migrations and queue)');
    }
    return current;
  };
  const logger: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: deps.maxBodyBytes,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    // Malformed URLs and over-long path parameters fail in the router, before any hook: answer
    // them in the API's own error shape.
    frameworkErrors: (error, _request, reply) =>
      send(
        reply,
        'bad_request',
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path parameter is longer than 100 characters'
          : 'the URL is malformed (check its percent-encoding)',
      ),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every body this API takes is JSON; anything else is a 415, not a confusing schema error.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  installCors(app, deps.security.corsOrigins);
  installAccessControl(app, {
    mode: deps.security.authMode,
    tokens: () => services().tokens,
    corsOrigins: deps.security.corsOrigins,
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const metrics = deps.metrics;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeHttp(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
    });
  }
  app.addHook('preValidation', async (request) => {
    for (const [where, value] of [
      ['body', request.body],
      ['querystring', request.query],
      ['params', request.params],
    ] as const) {
      const field = findUnstorableText(value, where);
      if (field) {
        const message = 'contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored';
        throw new AppError('validation_failed', `invalid ${where}: ${field}: ${message}`, [
          { field, message },
        ]);
      }
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Supervisor API',
        version: deps.version,
        description: 'Queue, run and watch coding tasks on a pool of headless coding agents.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'This supervisor' }],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API token (`supervisor tokens create`); development mode on loopback needs none',
          },
        },
      },
      tags: [
        { name: 'tasks', description: 'Submit, list, cancel and retry tasks' },
        { name: 'agents', description: 'The agent pool: agents, quota, pause, resume, reset' },
        { name: 'tokens', description: 'API tokens and their roles (admin)' },
        { name: 'notifications', description: 'Slack, email and webhook notifications (admin)' },
        { name: 'audit', description: 'The hash-chained audit trail (admin)' },
        { name: 'schedules', description: 'Recurring tasks from cron expressions' },
        { name: 'health', description: 'Liveness, readiness and component status' },
        { name: 'github', description: 'GitHub App webhooks (docs/github.md)' },
      ],
    },
    transform: openapiTransform,
    transformObject: openapiTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  healthRoutes(app, { state: deps.state, reporter: () => deps.services()?.health });

  if (metrics) {
    // Workers serve it too: their attempts, tokens and costs are counted where they run.
    await app.register(
      async (api) =>
        metricsRoutes(api, {
          metrics: () => {
            services(); // not ready while starting: the gauges read the database
            return metrics;
          },
        }),
      { prefix: API_PREFIX },
    );
  }
  if (deps.apiRoutes === false) return app;
  await app.register(dashboardRoutes);
  await app.register(
    async (api) => {
      taskRoutes(api, {
        tasks: () => services().tasks,
        submitLimits: {
          perToken: new RateLimiter(deps.security.submitPerMinute),
          perIp: new RateLimiter(deps.security.submitPerMinutePerIp),
        },
      });
      taskEventRoutes(api, { tasks: () => services().tasks, bus: () => services().bus });
      agentRoutes(api, { pool: () => services().pool, tasks: () => services().tasks, now: () => new Date() });
      tokenRoutes(api, () => services().tokens);
      notificationRoutes(api, () => services().notifier);
      auditRoutes(api, { db: () => services().db });
      scheduleRoutes(api, () => services().schedules);
      memoryRoutes(api, () => services().memory);
      mcpRoutes(api, () => services().memory);
      githubAdminRoutes(api, () => services().github);
      // Its own scope: webhook bodies are read raw, for their signature.
      await api.register(async (scope) => githubRoutes(scope, () => services().github));
      await api.register(async (scope) =>
        slackRoutes(scope, {
          slack: () => services().slack,
          tasks: () => services().tasks,
          logger: deps.logger,
        }),
      );
    },
    { prefix: API_PREFIX },
  );
  return app;
}
