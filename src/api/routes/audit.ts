import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sealAudit } from '../../audit/audit-log.ts';
import { auditView, decodeAuditCursor, encodeAuditCursor, listAudit } from '../../audit/audit-query.ts';
import { AppError } from '../../core/errors.ts';
import { isoDateTime } from '../../core/timestamps.ts';
import type { Db } from '../../store/database.ts';
import { errorSchema } from '../schemas.ts';

const auditRecordSchema = z
  .object({
    id: z.number().int().describe('Position in the chain; later records have larger ids'),
    at: z.string().describe('ISO 8601 timestamp'),
    actor: z.string().describe('The API token’s name, or `supervisor` for what the supervisor did by itself'),
    action: z.string().describe('What happened: `task.submitted`, `token.revoked`, `audit.pruned`, …'),
    task_id: z.uuid().nullable(),
    agent_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    prev_hash: z.string().describe('The previous record’s hash (64 zeros for the first record)'),
    hash: z.string().describe('SHA-256 over prev_hash and this record’s fields'),
  })
  .meta({ id: 'AuditRecord' });

const listQuery = z.strictObject({
  actor: z.string().min(1).max(200).optional(),
  task_id: z.uuid({ error: 'expected a task id (UUID)' }).optional(),
  agent_id: z.string().min(1).max(200).optional(),
  action: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().max(100)).max(50))
    .optional()
    .describe('Comma-separated list of actions, e.g. `task.submitted,task.cancelled`'),
  from: isoDateTime.optional().describe('Only records at or after this time'),
  to: isoDateTime.optional().describe('Only records before this time'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional().describe('`next_cursor` from the previous page'),
});

/** The audit trail: who did what, newest first. Admins only: records name people and repositories. */
export function auditRoutes(app: FastifyInstance, deps: { db: () => Db }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/audit-logs',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'List audit records, newest first',
        description:
          'Every filter given must match. Each record carries its hash and the previous record’s, so an ' +
          'export can be checked offline; `supervisor audit verify` checks the whole chain.',
        querystring: listQuery,
        response: {
          200: z.object({ items: z.array(auditRecordSchema), next_cursor: z.string().nullable() }),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request) => {
      const query = request.query;
      const before = query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor);
      if (query.cursor !== undefined && before === undefined) {
        throw new AppError('invalid_cursor', 'cursor is not one this server returned');
      }
      // Records written a moment ago are listed too: they are chained first.
      await sealAudit(deps.db());
      const page = await listAudit(
        deps.db(),
        {
          actor: query.actor,
          taskId: query.task_id,
          agentId: query.agent_id,
          actions: query.action,
          from: query.from ? new Date(query.from) : undefined,
          to: query.to ? new Date(query.to) : undefined,
        },
        { limit: query.limit, before },
      );
      return {
        items: page.items.map(auditView),
        next_cursor: page.next === undefined ? null : encodeAuditCursor(page.next),
      };
    },
  );
}
