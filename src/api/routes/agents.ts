import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Role } from '../../auth/roles.ts';
import { AppError } from '../../core/errors.ts';
import type { AgentPool, AgentStatus } from '../../pool/agent-pool.ts';
import type { TaskService } from '../../tasks/task-service.ts';
import { principalOf } from '../access.ts';
import { errorSchema } from '../schemas.ts';

const iso = (value: Date | null | undefined) => (value ? value.toISOString() : null);

const windowSchema = z.object({
  name: z.string(),
  metric: z.enum(['requests', 'tokens', 'usd']),
  limit: z.number(),
  used: z.number(),
  remaining: z.number(),
  hours: z.number(),
  mode: z.enum(['rolling', 'fixed']),
  resets_at: z.string(),
});

const agentSchema = z
  .object({
    id: z.string(),
    cli: z.string(),
    credential_class: z
      .string()
      .describe('api_key, gateway_token, subscription or cloud; the credential itself is never shown'),
    credential_fingerprint: z
      .string()
      .describe('First digits of the credential’s SHA-256: shows a change, reveals nothing'),
    owner: z.string().nullable().describe('Owner of a personal subscription seat'),
    models: z.array(z.string()),
    state: z.enum(['active', 'paused', 'disabled']),
    state_reason: z.string().nullable(),
    max_concurrent: z.number().int(),
    running: z.number().int(),
  })
  .meta({ id: 'Agent' });

const quotaSchema = agentSchema
  .extend({
    windows: z.array(windowSchema),
    cooldowns: z.array(z.object({ model: z.string(), until: z.string(), reason: z.string() })),
    warning_until: z.string().nullable(),
    quota_reset_at: z.string().nullable(),
    available: z.boolean().describe('Active, with a free slot, no cooldown and room in every window'),
  })
  .meta({ id: 'AgentQuota' });

function agentView(status: AgentStatus): z.infer<typeof agentSchema> {
  return {
    id: status.id,
    cli: status.cli,
    credential_class: status.credentialClass,
    credential_fingerprint: status.credentialFingerprint,
    owner: status.owner,
    models: status.models,
    state: status.state as 'active' | 'paused' | 'disabled',
    state_reason: status.stateReason,
    max_concurrent: status.maxConcurrent,
    running: status.running,
  };
}

function quotaView(status: AgentStatus, now: Date): z.infer<typeof quotaSchema> {
  const cooldowns = status.cooldowns.filter((cooldown) => cooldown.until > now);
  return {
    ...agentView(status),
    windows: status.windows.map((window) => ({
      name: window.name,
      metric: window.metric,
      limit: window.limit,
      used: window.used,
      remaining: window.remaining,
      hours: window.hours,
      mode: window.mode as 'rolling' | 'fixed',
      resets_at: window.resetsAt.toISOString(),
    })),
    cooldowns: cooldowns.map((cooldown) => ({
      model: cooldown.model,
      until: cooldown.until.toISOString(),
      reason: cooldown.reason,
    })),
    warning_until: iso(status.warningUntil && status.warningUntil > now ? status.warningUntil : null),
    quota_reset_at: iso(status.quotaResetAt),
    available:
      status.state === 'active' &&
      status.running < status.maxConcurrent &&
      cooldowns.length === 0 &&
      status.windows.every((window) => window.remaining > 0),
  };
}

const actorOf = (request: FastifyRequest) => principalOf(request).name;
const errors = { 401: errorSchema, 403: errorSchema, 503: errorSchema };

export function agentRoutes(
  app: FastifyInstance,
  deps: { pool: () => AgentPool; tasks: () => TaskService; now: () => Date },
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const idParams = z.object({ id: z.string().min(1).max(64) });
  const notFound = (id: string) => new AppError('agent_not_found', `no agent named ${id}`);

  api.get(
    '/agents',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['agents'],
        summary: 'The agents of the pool (credentials are never returned)',
        response: { 200: z.object({ items: z.array(agentSchema) }), ...errors },
      },
    },
    async () => ({ items: (await deps.pool().status(deps.now())).map(agentView) }),
  );

  api.get(
    '/agents/quota/status',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['agents'],
        summary:
          'Per agent: quota windows (used, limit, remaining, reset), cooldowns, state and runs in flight',
        response: { 200: z.object({ items: z.array(quotaSchema) }), ...errors },
      },
    },
    async () => {
      const now = deps.now();
      return { items: (await deps.pool().status(now)).map((status) => quotaView(status, now)) };
    },
  );

  const action = (
    path: string,
    access: Role,
    summary: string,
    run: (id: string, actor: string) => Promise<unknown>,
  ) =>
    api.post(
      `/agents/:id/${path}`,
      {
        config: { access },
        schema: {
          tags: ['agents'],
          summary,
          params: idParams,
          response: { 200: quotaSchema, 404: errorSchema, 400: errorSchema, ...errors },
        },
      },
      async (request) => {
        const found = await run(request.params.id, actorOf(request));
        if (!found) throw notFound(request.params.id);
        // Capacity may have appeared: parked tasks get another look, most urgent first.
        await deps.tasks().wakeParked(100);
        const now = deps.now();
        const status = (await deps.pool().status(now)).find((agent) => agent.id === request.params.id);
        if (!status) throw notFound(request.params.id);
        return quotaView(status, now);
      },
    );

  action('pause', 'operator', 'Pause an agent: it takes no new attempts (running ones finish)', (id, actor) =>
    deps.pool().setState(id, 'paused', actor, deps.now()),
  );
  action('resume', 'operator', 'Resume a paused or disabled agent', (id, actor) =>
    deps.pool().setState(id, 'active', actor, deps.now()),
  );
  action('reset-quota', 'admin', 'Forget the agent’s usage so far and its cooldowns', (id, actor) =>
    deps.pool().resetQuota(id, actor, deps.now()),
  );
}
