import { z } from 'zod';
import { WAIT_REASONS } from '../core/admission.ts';
import { AGENT_CLIS } from '../core/agent-types.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../core/errors.ts';
import { OUTCOMES, TASK_OUTCOMES } from '../core/outcome.ts';
import { TASK_STATUSES } from '../core/task-status.ts';
import { TASK_TYPES } from '../core/task-types.ts';
import {
  APPROVAL_STATUSES,
  type ApprovalRow,
  type AttemptRow,
  type GitHubTaskRow,
  type TaskMessageRow,
  type TaskRow,
} from '../store/schema.ts';
import type { AttemptTotals } from '../store/task-store.ts';

/** Response shapes of the API. They validate what we send and produce the OpenAPI document. */

const timestamp = z.string().describe('ISO 8601 timestamp');
const iso = (value: Date | null | undefined): string | null => (value ? value.toISOString() : null);

export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });

export const approvalSchema = z
  .object({
    id: z.uuid(),
    task_id: z.uuid(),
    attempt_id: z.uuid(),
    tool: z.string().describe('The tool the agent asked to use: Bash, Edit, Write, …'),
    input: z
      .unknown()
      .describe('Its input as the agent asked for it (the command, the file and its content)'),
    reason: z.string().describe('Why it waits for a person: the approval policy rule that matched'),
    status: z
      .enum(APPROVAL_STATUSES)
      .describe(
        '`pending` until someone decides; `expired`: nobody answered by `expires_at` (a denial); ' +
          '`withdrawn`: the attempt ended first',
      ),
    decided_by: z.string().nullable(),
    note: z
      .string()
      .nullable()
      .describe('What the person said with the decision; a denial’s note reaches the agent'),
    requested_at: timestamp,
    expires_at: timestamp,
    decided_at: timestamp.nullable(),
  })
  .meta({ id: 'Approval' });

export type ApprovalView = z.infer<typeof approvalSchema>;

export function approvalView(approval: ApprovalRow): ApprovalView {
  return {
    id: approval.id,
    task_id: approval.taskId,
    attempt_id: approval.attemptId,
    tool: approval.tool,
    input: approval.input,
    reason: approval.reason,
    status: approval.status,
    decided_by: approval.decidedBy,
    note: approval.note,
    requested_at: approval.requestedAt.toISOString(),
    expires_at: approval.expiresAt.toISOString(),
    decided_at: iso(approval.decidedAt),
  };
}

export const taskSchema = z
  .object({
    id: z.uuid(),
    type: z.enum(TASK_TYPES),
    status: z.enum(TASK_STATUSES),
    priority: z.number().int(),
    repository: z.string(),
    payload: z.record(z.string(), z.unknown()),
    depends_on: z.array(z.uuid()).describe('Ids of the tasks that must succeed before this one starts'),
    submission_id: z
      .uuid()
      .nullable()
      .describe('The batch submission (POST /tasks/batch) this task came with; null when submitted alone'),
    batch: z
      .boolean()
      .describe('Submitted with `"batch": true`: may run as an item of a shared agent session'),
    outcome: z
      .enum(TASK_OUTCOMES)
      .nullable()
      .describe(
        'Outcome of the latest finished attempt; `dependency_failed` when a task this one depends on failed or was cancelled',
      ),
    error: z.string().nullable(),
    question: z
      .string()
      .nullable()
      .describe('With outcome `needs_input`: what the agent asked, in plain words'),
    awaiting_approval: approvalSchema
      .nullable()
      .describe(
        'A running task whose agent waits for a person to approve a tool call: that call (approve or deny it ' +
          'with POST /api/v1/tasks/{id}/approvals/{approval_id}); null otherwise',
      ),
    result: z
      .object({ text: z.string().nullable(), data: z.unknown() })
      .nullable()
      .describe('What the agent produced, once the task has a result'),
    attempts: z.object({ count: z.number().int(), max: z.number().int() }),
    budget: z.object({
      max_cost_usd: z.number().nullable(),
      max_duration_seconds: z.number().int().nullable(),
    }),
    agent_cli: z.enum(AGENT_CLIS).nullable().describe('The agent CLI the submission prefers; null: any'),
    parked_until: timestamp
      .nullable()
      .describe('While parked for quota or budget: when an agent is expected to be free'),
    park_reason: z
      .enum(WAIT_REASONS)
      .nullable()
      .describe(
        'Why a task that has not started is not running: `slot` while it stays queued (or retrying) for a ' +
          'free run slot; while parked, `quota` (an agent cooling down or a request/token window full), ' +
          '`budget` (a dollar window or budget spent) or `no_agent` (no enabled agent can run it: add, fix ' +
          'or resume one). Null otherwise',
      ),
    park_detail: z
      .string()
      .nullable()
      .describe('With `park_reason`: each agent’s blockers and what would change them'),
    cost: z.object({
      usd: z.number(),
      input_tokens: z.number().int(),
      output_tokens: z.number().int(),
      cache_read_tokens: z.number().int(),
      cache_write_tokens: z.number().int(),
    }),
    submitted_by: z.string(),
    github: z
      .object({
        repository: z.string().describe('owner/repo'),
        number: z.number().int().describe('The issue or pull request the task came from'),
        url: z.string().nullable().describe('Its page on GitHub'),
        pull_url: z.string().nullable().describe('The pull request the task opened (fix, implement)'),
        review_url: z.string().nullable().describe('The review the task posted'),
      })
      .nullable()
      .describe('For a task that came from GitHub: where, and what it posted there (docs/github.md)'),
    run_after: timestamp.nullable(),
    cancel_requested_at: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
  })
  .meta({ id: 'Task' });

export const attemptSchema = z
  .object({
    id: z.uuid(),
    number: z.number().int(),
    driver: z.string(),
    agent_id: z.string().nullable(),
    worker_id: z.string(),
    host: z.string().nullable(),
    agent_pid: z.number().int().nullable().describe('Process id of the agent on `host`'),
    started_at: timestamp,
    ended_at: timestamp.nullable(),
    outcome: z.enum(OUTCOMES).nullable(),
    evidence: z.unknown().describe('What the outcome was read from: source, signal, field, value'),
    counts_against_budget: z.boolean(),
    error: z.string().nullable(),
    question: z.string().nullable().describe('What the agent asked a person (outcome `needs_input`)'),
    session_id: z.string().nullable(),
    model: z.string().nullable(),
    usage: z.object({
      input_tokens: z.number().int(),
      output_tokens: z.number().int(),
      cache_read_tokens: z.number().int(),
      cache_write_tokens: z.number().int(),
    }),
    cost_usd: z.number(),
    api_requests: z.number().int(),
    batch_lead_attempt_id: z
      .uuid()
      .nullable()
      .describe(
        'Set when this attempt ran as an item of another attempt’s agent session (batching): that attempt. Usage and cost are this task’s share',
      ),
    admission: z
      .unknown()
      .describe('Why this agent: the decision, every agent’s verdict, the usage estimate, the session'),
  })
  .meta({ id: 'Attempt' });

export const messageSchema = z
  .object({
    id: z.uuid(),
    author: z.string(),
    text: z.string(),
    kind: z
      .enum(['answer', 'follow_up', 'steer'])
      .describe(
        '`answer`: to a run that did not succeed (its question); `follow_up`: to a succeeded result; ' +
          '`steer`: sent while the task ran and put into its agent’s next turn (that run answers it)',
      ),
    run_base: z
      .number()
      .int()
      .nullable()
      .describe(
        'The attempts the task had when the message’s run started: that run numbers its attempts after this. ' +
          'Null while the message waits: for the running agent’s next turn, or for the task’s current run to end',
      ),
    reply: z
      .string()
      .nullable()
      .describe(
        'What its run ended with: the agent’s final text, its question, or the error; null until then',
      ),
    reply_outcome: z.string().nullable().describe('The outcome its run ended with'),
    created_at: timestamp,
  })
  .meta({ id: 'TaskMessage' });

export const MESSAGE_MAX_CHARS = 20_000;

export type TaskView = z.infer<typeof taskSchema>;
export type AttemptView = z.infer<typeof attemptSchema>;
export type MessageView = z.infer<typeof messageSchema>;

export function messageView(message: TaskMessageRow): MessageView {
  return {
    id: message.id,
    author: message.author,
    text: message.text,
    kind: message.kind,
    run_base: message.runBase,
    reply: message.reply,
    reply_outcome: message.replyOutcome,
    created_at: message.createdAt.toISOString(),
  };
}

export function taskView(
  task: TaskRow,
  totals: AttemptTotals,
  dependsOn: string[],
  github?: GitHubTaskRow,
  approval?: ApprovalRow,
): TaskView {
  const hasResult = task.resultText !== null || task.result !== null;
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    priority: task.priority,
    repository: task.repository,
    payload: task.payload as Record<string, unknown>,
    depends_on: dependsOn,
    submission_id: task.submissionId,
    batch: task.batchKey !== null,
    outcome: task.outcome,
    error: task.error,
    question: task.question,
    awaiting_approval: approval ? approvalView(approval) : null,
    result: hasResult ? { text: task.resultText, data: task.result } : null,
    attempts: { count: totals.attempts, max: task.maxAttempts },
    budget: { max_cost_usd: task.maxCostUsd, max_duration_seconds: task.maxDurationSeconds },
    agent_cli: task.agentCli,
    parked_until: iso(task.parkedUntil),
    park_reason: task.parkReason,
    park_detail: task.parkDetail,
    cost: {
      usd: totals.costUsd,
      input_tokens: totals.inputTokens,
      output_tokens: totals.outputTokens,
      cache_read_tokens: totals.cacheReadTokens,
      cache_write_tokens: totals.cacheWriteTokens,
    },
    submitted_by: task.submittedBy,
    github: github
      ? {
          repository: github.repository,
          number: github.number,
          url: github.url,
          pull_url: github.pullUrl,
          review_url: github.reviewUrl,
        }
      : null,
    run_after: iso(task.runAfter),
    cancel_requested_at: iso(task.cancelRequestedAt),
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
    started_at: iso(task.startedAt),
    finished_at: iso(task.finishedAt),
  };
}

export function attemptView(attempt: AttemptRow): AttemptView {
  return {
    id: attempt.id,
    number: attempt.number,
    driver: attempt.driver,
    agent_id: attempt.agentId,
    worker_id: attempt.workerId,
    host: attempt.host,
    agent_pid: attempt.agentPid,
    started_at: attempt.startedAt.toISOString(),
    ended_at: iso(attempt.endedAt),
    outcome: attempt.outcome,
    evidence: attempt.evidence,
    counts_against_budget: attempt.countsAgainstBudget,
    error: attempt.error,
    question: attempt.question,
    session_id: attempt.sessionId,
    model: attempt.model,
    usage: {
      input_tokens: attempt.inputTokens,
      output_tokens: attempt.outputTokens,
      cache_read_tokens: attempt.cacheReadTokens,
      cache_write_tokens: attempt.cacheWriteTokens,
    },
    cost_usd: attempt.costUsd,
    api_requests: attempt.apiRequests,
    batch_lead_attempt_id: attempt.batchLeadAttemptId,
    admission: attempt.admission,
  };
}
