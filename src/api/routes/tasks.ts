import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { roleIncludes } from '../../auth/roles.ts';
import { AppError } from '../../core/errors.ts';
import { TASK_STATUSES } from '../../core/task-status.ts';
import { batchSubmissionSchema, TASK_TYPES, taskSubmissionSchema } from '../../core/task-types.ts';
import { isoDateTime } from '../../core/timestamps.ts';
import { decodeCursor, encodeCursor } from '../../store/cursor.ts';
import { INBOX_KINDS } from '../../store/inbox-store.ts';
import { type Actor, NO_TOTALS, type TaskService } from '../../tasks/task-service.ts';
import { principalOf } from '../access.ts';
import type { RateLimiter } from '../rate-limit.ts';
import {
  approvalSchema,
  approvalView,
  attemptSchema,
  attemptView,
  errorSchema,
  MESSAGE_MAX_CHARS,
  messageSchema,
  messageView,
  taskSchema,
  taskView,
} from '../schemas.ts';

/** A comma-separated list of `values`; the pattern puts the allowed values in the OpenAPI document. */
const commaSeparated = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .regex(new RegExp(`^\\s*(${values.join('|')})\\s*(,\\s*(${values.join('|')})\\s*)*$`), {
      error: `expected a comma-separated list of ${values.join(', ')}`,
    })
    .transform((text) =>
      text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(values)))
    .describe(`Comma-separated list of ${values.join(', ')}`);

const listQuery = z.strictObject({
  status: commaSeparated(TASK_STATUSES).optional(),
  type: commaSeparated(TASK_TYPES).optional(),
  repository: z.string().min(1).max(1000).optional(),
  submission: z.uuid().optional().describe('Only the tasks of this batch submission (`submission_id`)'),
  created_after: isoDateTime.optional().describe('Only tasks created at or after this time'),
  created_before: isoDateTime.optional().describe('Only tasks created before this time'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional().describe('`next_cursor` from the previous page'),
});

const idParams = z.object({ id: z.uuid({ error: 'expected a task id (UUID)' }) });
const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(255).optional().describe('Repeat-safe submission key'),
});

const errors = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  413: errorSchema,
  503: errorSchema,
};

/** The authenticated caller, with where the request came from for the audit trail. */
function actorOf(request: FastifyRequest): Actor {
  const userAgent = request.headers['user-agent'];
  return { name: principalOf(request).name, ip: request.ip, ...(userAgent ? { userAgent } : {}) };
}

export interface TaskRouteDeps {
  tasks: () => TaskService;
  /** Submissions per token and per IP address. */
  submitLimits: { perToken: RateLimiter; perIp: RateLimiter };
}

export function taskRoutes(app: FastifyInstance, deps: TaskRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { tasks } = deps;

  /** Submitters manage their own tasks; operators and admins any task. */
  const requireManager = async (request: FastifyRequest, id: string) => {
    const principal = principalOf(request);
    if (roleIncludes(principal.role, 'operator')) return;
    const { task } = await tasks().get(id);
    if (task.submittedBy !== principal.name) {
      throw new AppError(
        'forbidden',
        `task ${id} was submitted by someone else; a submitter manages only its own tasks (operators manage all)`,
      );
    }
  };

  const limitSubmission = (request: FastifyRequest) => {
    const now = Date.now();
    const principal = principalOf(request);
    for (const [limiter, key, who] of [
      [deps.submitLimits.perIp, request.ip, `IP address ${request.ip}`],
      [deps.submitLimits.perToken, principal.tokenId ?? principal.name, `token of ${principal.name}`],
    ] as const) {
      const taken = limiter.take(key, now);
      if (!taken.ok) {
        throw new AppError(
          'rate_limited',
          `too many submissions from the ${who}; retry in ${taken.retryAfterSeconds} s`,
          { retry_after_seconds: taken.retryAfterSeconds },
          { headers: { 'retry-after': String(taken.retryAfterSeconds) } },
        );
      }
    }
  };

  api.post(
    '/tasks',
    {
      config: { access: 'submitter' },
      schema: {
        tags: ['tasks'],
        summary: 'Submit a task',
        description:
          'Creates a task and queues it. With an Idempotency-Key header, repeating the same request returns ' +
          'the original task (200, `Idempotent-Replayed: true`); the same key with another body is a 409. ' +
          'With `"dedupe": true`, a task of the same type and payload submitted within DEDUP_WINDOW_SECONDS ' +
          'that has not failed or been cancelled is returned instead of running again (200, `Deduplicated: true`). ' +
          'Refs count as given, not as the commits they point to. The Idempotency-Key is checked first. ' +
          'With `depends_on`, the task waits (status `waiting`) until those tasks have succeeded, and fails with ' +
          'outcome `dependency_failed` if one fails or is cancelled; naming a task that has already failed or ' +
          'been cancelled is a 400. `dedupe` cannot be combined with `depends_on`.',
        body: taskSubmissionSchema,
        headers: idempotencyHeaders,
        response: { 200: taskSchema, 201: taskSchema, 429: errorSchema, ...errors },
      },
    },
    async (request, reply) => {
      limitSubmission(request);
      const idempotencyKey = request.headers['idempotency-key'];
      const { task, dependsOn, created, deduplicated } = await tasks().submit(request.body, {
        actor: actorOf(request),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      });
      if (created) return reply.status(201).send(taskView(task, NO_TOTALS, dependsOn));
      // A replay or a duplicate may find the task long finished, so it is read again with its totals.
      const view = await tasks().get(task.id);
      return reply
        .status(200)
        .header(deduplicated ? 'deduplicated' : 'idempotent-replayed', 'true')
        .send(taskView(view.task, view.totals, view.dependsOn));
    },
  );

  api.post(
    '/tasks/batch',
    {
      config: { access: 'submitter' },
      schema: {
        tags: ['tasks'],
        summary: 'Submit a graph of dependent tasks at once',
        description:
          'Creates up to 50 tasks in one transaction. Each has a `key`, and its `depends_on` lists keys of this ' +
          'batch or ids of existing tasks. A task starts only once everything it depends on has succeeded ' +
          '(independent tasks run in parallel), and fails with outcome `dependency_failed` if one fails or is ' +
          'cancelled. Duplicate or unknown keys and cycles are a 400 naming the field (and the cycle, ' +
          '`a → b → a`). Answers with the tasks in dependency order and the id each key became. Counts as one ' +
          'submission for the rate limits; Idempotency-Key and `dedupe` do not apply. When its last task ends, one ' +
          'batch summary is sent (alert kind `batch_finished`) with counts by outcome, cost and links.',
        body: batchSubmissionSchema,
        response: {
          201: z.object({
            submission_id: z
              .uuid()
              .describe('Names the batch: its tasks carry it, and `GET /tasks?submission=` lists them'),
            items: z.array(taskSchema).describe('The created tasks, each after the tasks it depends on'),
            ids: z.record(z.string(), z.uuid()).describe('The id of each key'),
          }),
          429: errorSchema,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      limitSubmission(request);
      const result = await tasks().submitBatch(request.body, { actor: actorOf(request) });
      return reply.status(201).send({
        submission_id: result.submissionId,
        items: result.tasks.map(({ task, dependsOn }) => taskView(task, NO_TOTALS, dependsOn)),
        ids: result.ids,
      });
    },
  );

  api.get(
    '/tasks',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'List tasks, newest first',
        querystring: listQuery,
        response: {
          200: z.object({ items: z.array(taskSchema), next_cursor: z.string().nullable() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const query = request.query;
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (query.cursor !== undefined && !after) {
        throw new AppError('invalid_cursor', 'cursor is not one this server returned');
      }
      const page = await tasks().list(
        {
          status: query.status,
          type: query.type,
          repository: query.repository,
          submissionId: query.submission,
          createdAfter: query.created_after ? new Date(query.created_after) : undefined,
          createdBefore: query.created_before ? new Date(query.created_before) : undefined,
        },
        { limit: query.limit, after },
      );
      return {
        items: page.items.map(({ task, totals, dependsOn, github, approval }) =>
          taskView(task, totals, dependsOn, github, approval),
        ),
        next_cursor: page.next ? encodeCursor(page.next) : null,
      };
    },
  );

  api.get(
    '/tasks/stats/summary',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'Counts by status and type, with total cost and tokens',
        response: {
          200: z.object({
            total: z.number().int(),
            by_status: z.record(z.string(), z.number().int()),
            by_type: z.record(z.string(), z.number().int()),
            attempts: z.number().int(),
            cost_usd: z.number(),
            tokens: z.object({
              input: z.number().int(),
              output: z.number().int(),
              cache_read: z.number().int(),
              cache_write: z.number().int(),
            }),
          }),
          503: errorSchema,
        },
      },
    },
    async () => {
      const stats = await tasks().stats();
      const byStatus = Object.fromEntries(
        TASK_STATUSES.map((status) => [status, stats.byStatus[status] ?? 0]),
      );
      return {
        total: Object.values(stats.byStatus).reduce((sum, count) => sum + count, 0),
        by_status: byStatus,
        by_type: stats.byType,
        attempts: stats.totals.attempts,
        cost_usd: stats.totals.costUsd,
        tokens: {
          input: stats.totals.inputTokens,
          output: stats.totals.outputTokens,
          cache_read: stats.totals.cacheReadTokens,
          cache_write: stats.totals.cacheWriteTokens,
        },
      };
    },
  );

  api.get(
    '/tasks/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'One task with its result, outcome, attempt count and cost',
        params: idParams,
        response: { 200: taskSchema, ...errors },
      },
    },
    async (request) => {
      const { task, totals, dependsOn, github, approval } = await tasks().get(request.params.id);
      return taskView(task, totals, dependsOn, github, approval);
    },
  );

  api.get(
    '/tasks/:id/attempts',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'Every attempt of a task, oldest first, with outcome evidence and usage',
        params: idParams,
        response: { 200: z.object({ items: z.array(attemptSchema) }), ...errors },
      },
    },
    async (request) => ({ items: (await tasks().attempts(request.params.id)).map(attemptView) }),
  );

  api.get(
    '/tasks/:id/diff',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'The change a mutating task made, as a unified diff against its base commit',
        description:
          'Plain text (`text/x-diff`). Headers `x-branch` and `x-head-commit` name where the change lives; ' +
          '`x-diff-truncated: true` when the stored diff was cut at 1 MiB (the branch holds all of it).',
        params: idParams,
        response: { 200: z.string(), ...errors },
      },
    },
    async (request, reply) => {
      const { task } = await tasks().get(request.params.id);
      const workspace = (
        task.result as {
          workspace?: { diff: string; branch: string; head_commit: string; diff_truncated: boolean };
        } | null
      )?.workspace;
      if (!workspace)
        throw new AppError('no_diff', `task ${task.id} has no diff (${task.type}, ${task.status})`);
      return reply
        .type('text/x-diff; charset=utf-8')
        .header('x-branch', workspace.branch)
        .header('x-head-commit', workspace.head_commit)
        .header('x-diff-truncated', String(workspace.diff_truncated))
        .send(workspace.diff);
    },
  );

  api.post(
    '/tasks/:id/cancel',
    {
      config: { access: 'submitter' },
      schema: {
        tags: ['tasks'],
        summary: 'Cancel a task',
        description:
          'A task that has not started is cancelled at once (200). A running task is stopped by its worker ' +
          '(202): its status turns `cancelled` once the agent process is gone. Finished tasks answer 409.',
        params: idParams,
        response: { 200: taskSchema, 202: taskSchema, ...errors },
      },
    },
    async (request, reply) => {
      await requireManager(request, request.params.id);
      const { task, stopping } = await tasks().cancel(request.params.id, actorOf(request));
      const view = await tasks().get(task.id);
      return reply.status(stopping ? 202 : 200).send(taskView(view.task, view.totals, view.dependsOn));
    },
  );

  api.post(
    '/tasks/:id/messages',
    {
      config: { access: 'submitter' },
      schema: {
        tags: ['tasks'],
        summary: 'Answer a task’s question, or follow up on its result',
        description:
          'For a task that has finished: queues it again, and its next run resumes the agent’s session (same ' +
          'session id, same branch for a change) with this message. To a task that failed (it stopped on a ' +
          'question, say) the message is an answer, and the run ends as the task’s type asks; to one that ' +
          'succeeded it is a follow-up ("also add a test", "explain finding 2"), answered in words or, for a ' +
          'change, with more commits on its branch (pushed again with `push_branch`). Earlier attempts and ' +
          'results are kept. To a running task, the message goes into its agent’s next turn (within a second or ' +
          'so; then its `kind` is `steer` and that run answers it); to a queued one it waits (`run_base` null) ' +
          'and reaches the agent once its run starts; one that comes after the run’s last turn starts the run ' +
          'after it. 409 `task_in_progress` while it waits for its dependencies, `task_never_ran` for a task ' +
          'that ended before an agent ran, `message_limit` after TASK_MESSAGES_MAX messages, ' +
          '`invalid_transition` for a cancelled task. The task’s submitter, operators and admins may send.',
        params: idParams,
        body: z.strictObject({ text: z.string().trim().min(1).max(MESSAGE_MAX_CHARS) }),
        response: {
          202: z.object({ message: messageSchema, task: taskSchema }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      await requireManager(request, request.params.id);
      const { message } = await tasks().sendMessage(request.params.id, request.body.text, actorOf(request));
      const view = await tasks().get(request.params.id);
      return reply
        .status(202)
        .send({ message: messageView(message), task: taskView(view.task, view.totals, view.dependsOn) });
    },
  );

  api.get(
    '/inbox',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'What waits for a person, longest wait first',
        description:
          'Tasks that stopped on a question (`question`: answer with POST /api/v1/tasks/{id}/messages), tool ' +
          'calls waiting for a person (`approval`: approve or deny with POST ' +
          '/api/v1/tasks/{id}/approvals/{approval_id}) and tasks parked because no enabled agent can run them ' +
          '(`no_agent`: add, fix or resume an agent). `since` is when each started waiting.',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: {
          200: z.object({
            items: z.array(
              z
                .object({
                  kind: z.enum(INBOX_KINDS),
                  task_id: z.uuid(),
                  type: z.enum(TASK_TYPES),
                  repository: z.string(),
                  submitted_by: z.string(),
                  since: z.iso.datetime(),
                  question: z.string().nullable().describe('What the agent asked (kind `question`)'),
                  detail: z.string().nullable().describe('Why no agent can run it (kind `no_agent`)'),
                  approval: approvalSchema
                    .nullable()
                    .describe('The tool call to decide on (kind `approval`)'),
                })
                .meta({ id: 'InboxItem' }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request) => ({
      items: (await tasks().inbox(request.query.limit)).map(({ kind, task, since, approval }) => ({
        kind,
        task_id: task.id,
        type: task.type,
        repository: task.repository,
        submitted_by: task.submittedBy,
        since: since.toISOString(),
        question: task.question,
        detail: task.parkDetail,
        approval: approval ? approvalView(approval) : null,
      })),
    }),
  );

  api.get(
    '/tasks/:id/approvals',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'The tool calls of a task that waited for a person, oldest first',
        description:
          'Which calls the approval policy (APPROVAL_POLICY_FILE) held for a person, and how each was decided.',
        params: idParams,
        response: { 200: z.object({ items: z.array(approvalSchema) }), ...errors },
      },
    },
    async (request) => ({ items: (await tasks().approvals(request.params.id)).map(approvalView) }),
  );

  api.post(
    '/tasks/:id/approvals/:approval_id',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['tasks'],
        summary: 'Approve or deny a tool call the task’s agent waits on',
        description:
          'The agent’s worker sees the decision within a second or so: an approved call runs; a denied one does ' +
          'not, and the agent is told who denied it and the `note`. Operators and admins decide. 409 ' +
          '`approval_closed` when the call was decided already, nobody answered in time (it counts as denied), ' +
          'or its attempt ended.',
        params: z.object({ id: z.uuid(), approval_id: z.uuid() }),
        body: z.strictObject({
          decision: z.enum(['approve', 'deny']),
          note: z.string().trim().min(1).max(2000).optional().describe('Told to the agent with a denial'),
        }),
        response: { 200: approvalSchema, ...errors },
      },
    },
    async (request) => {
      const { decision, note } = request.body;
      const approval = await tasks().decideApproval(
        request.params.id,
        request.params.approval_id,
        { approve: decision === 'approve', note: note ?? null },
        actorOf(request),
      );
      return approvalView(approval);
    },
  );

  api.get(
    '/tasks/:id/messages',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['tasks'],
        summary: 'The messages sent to a task, oldest first',
        description:
          'With the attempts (each message’s run numbers its attempts after `run_base`), the task’s conversation.',
        params: idParams,
        response: { 200: z.object({ items: z.array(messageSchema) }), ...errors },
      },
    },
    async (request) => ({ items: (await tasks().messages(request.params.id)).map(messageView) }),
  );

  api.post(
    '/tasks/:id/retry',
    {
      config: { access: 'submitter' },
      schema: {
        tags: ['tasks'],
        summary: 'Run a failed or cancelled task again',
        description:
          'Queues a new attempt; earlier attempts stay in the history. Other statuses answer 409, and so does a ' +
          'task whose dependencies have not all succeeded (`dependencies_not_succeeded`: retry those first).',
        params: idParams,
        response: { 200: taskSchema, ...errors },
      },
    },
    async (request) => {
      await requireManager(request, request.params.id);
      const task = await tasks().retry(request.params.id, actorOf(request));
      const view = await tasks().get(task.id);
      return taskView(view.task, view.totals, view.dependsOn);
    },
  );
}
