import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import type { GitHubService } from '../../github/github-service.ts';
import { decodeCursor, encodeCursor } from '../../store/cursor.ts';
import { readBodiesAsText } from '../raw-body.ts';
import { errorSchema } from '../schemas.ts';

const header = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);

const configured = (github: () => GitHubService | undefined): GitHubService => {
  const service = github();
  if (!service) {
    throw new AppError(
      'github_not_configured',
      'GitHub is not configured here: set GITHUB_WEBHOOK_SECRET and GITHUB_APP_ID (or GITHUB_TOKEN)',
    );
  }
  return service;
};

const deliverySchema = z
  .object({
    id: z.string().describe('X-GitHub-Delivery'),
    event: z.string().describe('X-GitHub-Event, e.g. pull_request'),
    action: z.string().nullable(),
    repository: z.string().nullable().describe('owner/repo'),
    received_at: z.iso.datetime(),
    handled_at: z.iso.datetime().nullable().describe('null while queued (or being replayed)'),
    outcome: z.string().nullable().describe('What handling did: `review queued`, or why it started nothing'),
    task_id: z.uuid().nullable(),
    reconciled: z
      .boolean()
      .describe(
        'Found by the reconcile pass: GitHub never delivered it (its id is derived from what it is about)',
      ),
  })
  .meta({ id: 'GitHubDelivery' });

/**
 * `POST /api/v1/github/webhooks`: where a GitHub App sends its events. The signature is the
 * authentication, checked against the raw body, so this scope reads bodies as text rather than
 * parsing them first.
 */
export async function githubRoutes(
  app: FastifyInstance,
  github: () => GitHubService | undefined,
): Promise<void> {
  readBodiesAsText(app);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/github/webhooks',
    {
      config: { access: 'public' },
      schema: {
        tags: ['github'],
        summary: 'Receive a GitHub App webhook delivery',
        description:
          'Authenticated by `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with GITHUB_WEBHOOK_SECRET, or ' +
          'GITHUB_WEBHOOK_SECRET_PREVIOUS while rotating). Answers at once; the delivery is handled from the ' +
          'queue. A delivery id seen before is acknowledged and not handled again. See docs/github.md.',
        security: [],
        headers: z.object({
          'x-github-delivery': z.string().max(100).optional(),
          'x-github-event': z.string().max(100).optional(),
          'x-hub-signature-256': z.string().max(100).optional(),
        }),
        response: {
          202: z.object({ delivery: z.string(), duplicate: z.boolean() }),
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
          413: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const service = configured(github);
      const deliveryId = header(request.headers['x-github-delivery']);
      const { duplicate } = await service.receive({
        deliveryId,
        event: header(request.headers['x-github-event']),
        signature: header(request.headers['x-hub-signature-256']),
        rawBody: typeof request.body === 'string' ? request.body : '',
      });
      return reply.status(202).send({ delivery: deliveryId ?? '', duplicate });
    },
  );
}

/** The operator's view of the deliveries, and a replay for one that should be handled again. */
export function githubAdminRoutes(app: FastifyInstance, github: () => GitHubService | undefined): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/github/deliveries',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['github'],
        summary: 'List GitHub deliveries, newest first, with what each started',
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional().describe('`next_cursor` from the previous page'),
        }),
        response: {
          200: z.object({ items: z.array(deliverySchema), next_cursor: z.string().nullable() }),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const before = cursor === undefined ? undefined : decodeCursor(cursor);
      if (cursor !== undefined && before === undefined) {
        throw new AppError('invalid_cursor', 'cursor is not one this server returned');
      }
      const page = await configured(github).deliveries({ limit, ...(before ? { before } : {}) });
      return {
        items: page.items.map((row) => ({
          id: row.id,
          event: row.event,
          action: row.action,
          repository: row.repository,
          received_at: row.receivedAt.toISOString(),
          handled_at: row.handledAt?.toISOString() ?? null,
          outcome: row.outcome,
          task_id: row.taskId,
          reconciled: row.reconciled,
        })),
        next_cursor: page.next ? encodeCursor(page.next) : null,
      };
    },
  );
  api.get(
    '/github/status',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['github'],
        summary: 'How the GitHub connection stands',
        description:
          'How the supervisor acts on GitHub (an App or a personal token; no secret is shown), where it reaches ' +
          'the API and git, and its deliveries: received in the past 24 hours (and of those, found by the ' +
          'reconcile pass), still waiting to be handled, and when the last one came. 404 when GitHub is not configured.',
        response: {
          200: z.object({
            mode: z.enum(['app', 'token']),
            app_id: z.number().int().nullable(),
            api_url: z.string(),
            git_origin: z.string().describe('Where owner/repo is cloned from and pushed to'),
            mention: z.string().describe('GITHUB_MENTION'),
            webhook_secrets: z.number().int().describe('2 while a previous secret is still accepted'),
            reconcile_minutes: z.number().int(),
            deliveries: z.object({
              last_24h: z.number().int(),
              reconciled_last_24h: z.number().int(),
              waiting: z.number().int(),
              last_received_at: z.iso.datetime().nullable(),
            }),
          }),
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async () => configured(github).status(),
  );
  api.post(
    '/github/reconcile',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['github'],
        summary: 'Look now for what GitHub never delivered',
        description:
          'The reconcile pass, which also runs every GITHUB_RECONCILE_MINUTES: in each repository a delivery came ' +
          'from in the past week, open pull requests updated in the past day whose head commit no delivery named, ' +
          'and @-comments of the past day that no delivery carried, are stored as deliveries (`reconciled: true`) ' +
          'and handled like any other. Found again, one is the same delivery.',
        response: {
          200: z.object({
            repositories: z.number().int().describe('Repositories looked at'),
            found: z.number().int().describe('Missed deliveries found and queued'),
          }),
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async () => configured(github).reconcile(),
  );
  api.post(
    '/github/deliveries/:id/replay',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['github'],
        summary: 'Handle a stored delivery again',
        description:
          'For a delivery that started nothing it should have (GitHub was not configured yet, the daily limit, a ' +
          'fixed bug). A commit already reviewed is not reviewed again.',
        params: z.object({ id: z.uuid() }),
        response: {
          202: z.object({ delivery: z.string() }),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      await configured(github).replay(request.params.id, request.principal?.name ?? 'local');
      return reply.status(202).send({ delivery: request.params.id });
    },
  );
}
