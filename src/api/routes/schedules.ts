import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { taskSubmissionSchema } from '../../core/task-types.ts';
import type { ScheduleService } from '../../schedules/schedule-service.ts';
import type { ScheduleRow } from '../../store/schema.ts';
import { principalOf } from '../access.ts';
import { errorSchema } from '../schemas.ts';

const iso = (value: Date | null) => (value ? value.toISOString() : null);

const scheduleSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    cron: z.string().describe('Five fields, UTC'),
    submission: z.record(z.string(), z.unknown()).describe('The task submitted at each run'),
    enabled: z.boolean(),
    next_run_at: z.string().describe('When it runs next (if enabled)'),
    last_run_at: z.string().nullable(),
    last_task_id: z.uuid().nullable(),
    created_by: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'Schedule' });

function scheduleView(row: ScheduleRow): z.infer<typeof scheduleSchema> {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    submission: row.submission,
    enabled: row.enabled,
    next_run_at: row.nextRunAt.toISOString(),
    last_run_at: iso(row.lastRunAt),
    last_task_id: row.lastTaskId,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
  };
}

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema };
const idParams = z.object({ id: z.uuid({ error: 'expected a schedule id (UUID)' }) });

/** Recurring tasks: operators create, enable, disable and delete them; viewers list them. */
export function scheduleRoutes(app: FastifyInstance, service: () => ScheduleService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/schedules',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['schedules'],
        summary:
          'Create a schedule: the submission is made again at each time the cron expression names (UTC)',
        body: z.strictObject({
          name: z
            .string()
            .regex(/^[\w .@-]{1,100}$/, { error: 'expected 1-100 letters, digits, spaces and . _ @ -' }),
          cron: z
            .string()
            .min(1)
            .max(200)
            .describe('Five fields (minute hour day-of-month month day-of-week), UTC')
            .meta({ pattern: '^\\s*\\S+(\\s+\\S+){4}\\s*$' }),
          submission: taskSubmissionSchema,
          enabled: z.boolean().default(true),
        }),
        response: { 201: scheduleSchema, ...errors },
      },
    },
    async (request, reply) =>
      reply.status(201).send(scheduleView(await service().create(request.body, principalOf(request).name))),
  );

  api.get(
    '/schedules',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['schedules'],
        summary: 'List schedules with their next run',
        response: { 200: z.object({ items: z.array(scheduleSchema) }), ...errors },
      },
    },
    async () => ({ items: (await service().list()).map(scheduleView) }),
  );

  for (const [path, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    api.post(
      `/schedules/:id/${path}`,
      {
        config: { access: 'operator' },
        schema: {
          tags: ['schedules'],
          summary: enabled ? 'Enable a schedule from its next time' : 'Disable a schedule',
          params: idParams,
          response: { 200: scheduleSchema, ...errors },
        },
      },
      async (request) =>
        scheduleView(await service().setEnabled(request.params.id, enabled, principalOf(request).name)),
    );
  }

  api.delete(
    '/schedules/:id',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['schedules'],
        summary: 'Delete a schedule (tasks it submitted stay)',
        params: idParams,
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await service().remove(request.params.id, principalOf(request).name);
      return reply.status(204).send(null);
    },
  );
}
