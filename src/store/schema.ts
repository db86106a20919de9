import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Role } from '../auth/roles.ts';
import type { CredentialClass, WaitReason } from '../core/admission.ts';
import type { AdmissionRecord, AgentCli, AgentLimits } from '../core/agent-types.ts';
import type { Evidence, Outcome, TaskOutcome } from '../core/outcome.ts';
import type { TaskStatus } from '../core/task-status.ts';
import type { TaskPayload, TaskType } from '../core/task-types.ts';
import type { MemoryKind } from '../memory/memory-kinds.ts';

/**
 * The supervisor's tables. Changing this file means generating a migration (`npm run db:generate`);
 * CI fails when the two drift apart. Timestamps are set by the application, in milliseconds, so a
 * value read back compares equal to the one written (cursors depend on that).
 */

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });

/**
 * One POST /tasks/batch: its tasks point here, and the transaction that ends the last of them sets
 * `finished_at` and records `submission.finished`, from which the batch summary is sent.
 */
export const submissions = pgTable('submissions', {
  id: uuid('id').primaryKey(),
  submittedBy: text('submitted_by').notNull(),
  taskCount: integer('task_count').notNull(),
  createdAt: at('created_at').notNull(),
  finishedAt: at('finished_at'),
});

export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey(),
    type: text('type').$type<TaskType>().notNull(),
    status: text('status').$type<TaskStatus>().notNull(),
    priority: integer('priority').notNull(),
    /** Copied out of the payload so listings can filter on it with an index. */
    repository: text('repository').notNull(),
    payload: jsonb('payload').$type<TaskPayload>().notNull(),
    maxAttempts: integer('max_attempts').notNull(),
    /** Spend and wall-clock limits of the whole task, across attempts (null: only the global limits). */
    maxCostUsd: doublePrecision('max_cost_usd'),
    maxDurationSeconds: integer('max_duration_seconds'),
    /** The agent CLI the submission prefers (null: any); admission falls back to others. */
    agentCli: text('agent_cli').$type<AgentCli>(),
    /** While parked: when an agent is expected to be free (null: when capacity or an operator frees one). */
    parkedUntil: at('parked_until'),
    /**
     * Why a task that has not started is not running (src/core/admission.ts WAIT_REASONS): `slot`
     * while it stays queued for a free run slot; `quota`, `budget` or `no_agent` while parked.
     */
    parkReason: text('park_reason').$type<WaitReason>(),
    /** The explanation: each agent's blockers and what would change them. */
    parkDetail: text('park_detail'),
    /** Attempts numbered up to this one ran before the latest manual retry and no longer count. */
    retryBaseAttempt: integer('retry_base_attempt').notNull().default(0),
    runAfter: at('run_after'),
    /** The pg-boss job that will run (or is running) the next attempt; older jobs are ignored. */
    dispatchJobId: uuid('dispatch_job_id'),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    /** Content fingerprint (src/core/fingerprint.ts) that `dedupe: true` submissions look up. */
    fingerprint: text('fingerprint'),
    /**
     * Set when the submission opted in to batching (`batch: true`): tasks with the same key
     * (src/core/batch-key.ts) may run as items of one agent session. Null: the task runs alone.
     */
    batchKey: text('batch_key'),
    submittedBy: text('submitted_by').notNull(),
    /** The batch submission the task came in with (null: submitted on its own). */
    submissionId: uuid('submission_id').references(() => submissions.id),
    resultText: text('result_text'),
    result: jsonb('result'),
    /** Outcome of the latest finished attempt, or `dependency_failed` for a task that never ran. */
    outcome: text('outcome').$type<TaskOutcome>(),
    error: text('error'),
    /** What the agent of the latest attempt asked a person (outcome `needs_input`). */
    question: text('question'),
    cancelRequestedAt: at('cancel_requested_at'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
  },
  (t) => [
    // NULLS FIRST, as `order by … desc` sorts: an index in another null order cannot serve the
    // listing's order, and PostgreSQL then sorted the whole table for every page.
    index('tasks_created_idx').on(t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('tasks_status_created_idx').on(t.status, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('tasks_type_created_idx').on(t.type, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('tasks_repository_created_idx').on(
      t.repository,
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    index('tasks_fingerprint_created_idx').on(t.fingerprint, t.createdAt.desc().nullsFirst()),
    // Unfinished tasks (the queue gauges read them on every scrape), however long the history.
    index('tasks_live_idx')
      .on(t.status, t.priority, t.createdAt)
      .where(sql`${t.status} not in ('succeeded', 'failed', 'cancelled')`),
    // What waits for a person (the inbox), among all tasks.
    index('tasks_inbox_idx')
      .on(t.updatedAt, t.id)
      .where(
        sql`(${t.status} = 'failed' and ${t.outcome} = 'needs_input') or (${t.status} = 'parked' and ${t.parkReason} = 'no_agent')`,
      ),
    // Companions of a batch are looked up among queued tasks of one key when a batch starts.
    index('tasks_batch_key_idx').on(t.batchKey, t.status).where(sql`${t.batchKey} is not null`),
    index('tasks_submission_idx').on(t.submissionId).where(sql`${t.submissionId} is not null`),
    uniqueIndex('tasks_idempotency_key_idx').on(t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);

/**
 * People's messages to a task that ran before: an answer to its question, or a follow-up to its
 * result. Each starts a run of the task (its attempts numbered after `run_base`) that resumes the
 * task's agent session.
 */
export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'withdrawn'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/**
 * Tool calls an agent asked to make that wait for a person (the approval policy said so). The
 * worker running the agent waits on the row; anyone allowed decides through the API, CLI,
 * dashboard or Slack. `expired`: nobody answered in time (a denial); `withdrawn`: the attempt
 * ended first.
 */
export const approvals = pgTable(
  'approvals',
  {
    id: uuid('id').primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    attemptId: uuid('attempt_id').notNull(),
    tool: text('tool').notNull(),
    /** The tool's input as the agent asked for it (secrets scrubbed). */
    input: jsonb('input').notNull(),
    /** Why it needs a person: the policy rule that matched. */
    reason: text('reason').notNull(),
    status: text('status').$type<ApprovalStatus>().notNull(),
    decidedBy: text('decided_by'),
    /** What the person said with the decision; a denial's note reaches the agent. */
    note: text('note'),
    requestedAt: at('requested_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    decidedAt: at('decided_at'),
  },
  (t) => [
    index('approvals_task_idx').on(t.taskId, t.requestedAt),
    index('approvals_pending_idx').on(t.requestedAt).where(sql`${t.status} = 'pending'`),
  ],
);

export const taskMessages = pgTable(
  'task_messages',
  {
    id: uuid('id').primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    author: text('author').notNull(),
    text: text('text').notNull(),
    /**
     * `answer` (to a run that did not succeed), `follow_up` (to a success), or `steer` (put into
     * the running agent's next turn; it is answered by that run).
     */
    kind: text('kind').$type<'answer' | 'follow_up' | 'steer'>().notNull(),
    /** The task's final text (or question) when it was sent: told again to an agent that cannot resume. */
    earlier: text('earlier'),
    /**
     * The task's attempts when its run started: that run's attempts are numbered after this. Null
     * while it waits for the task's current run to end (it was sent while the task ran).
     */
    runBase: integer('run_base'),
    /** What its run ended with: the agent's final text (or question, or error), and the outcome. */
    reply: text('reply'),
    replyOutcome: text('reply_outcome'),
    repliedAt: at('replied_at'),
    /** Where it came from, when that can arrive twice (a GitHub delivery): one message per source. */
    source: text('source'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    index('task_messages_task_idx').on(t.taskId, t.runBase),
    uniqueIndex('task_messages_source_idx').on(t.taskId, t.source),
  ],
);

export const taskAttempts = pgTable(
  'task_attempts',
  {
    id: uuid('id').primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    /** Agent (CLI + credential) that ran the attempt; never the credential itself. */
    agentId: text('agent_id'),
    driver: text('driver').notNull(),
    workerId: text('worker_id').notNull(),
    /** Host the worker ran on, and the agent's process (group) id there: recovery kills an orphan. */
    host: text('host'),
    agentPid: integer('agent_pid'),
    jobId: uuid('job_id'),
    /** Why this agent: the admission decision with every agent's verdict and the usage estimate. */
    admission: jsonb('admission').$type<AdmissionRecord>(),
    /** Model API requests the attempt made (counted from the stream). */
    apiRequests: integer('api_requests').notNull().default(0),
    startedAt: at('started_at').notNull(),
    endedAt: at('ended_at'),
    outcome: text('outcome').$type<Outcome>(),
    evidence: jsonb('evidence').$type<Evidence>(),
    /** Whether this attempt used up one of the task's attempts (interruptions do not). */
    countsAgainstBudget: boolean('counts_against_budget').notNull().default(true),
    error: text('error'),
    /** What the agent asked a person, in plain words (outcome `needs_input`). */
    question: text('question'),
    sessionId: text('session_id'),
    model: text('model'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    cacheReadTokens: integer('cache_read_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    /**
     * For an attempt that ran as an item of another attempt's agent session (batching): that
     * attempt, which holds the agent slot and the admission. Tokens and cost here are this task's
     * share of the session's.
     */
    batchLeadAttemptId: uuid('batch_lead_attempt_id'),
    /**
     * While open: until when the attempt's worker holds it. The worker renews the lease while the
     * agent runs; an attempt whose lease has expired is recovered (src/runner/lease.ts).
     */
    leaseExpiresAt: at('lease_expires_at'),
    /** When another process first saw the lease expired; the attempt is recovered a lease later. */
    leaseLostAt: at('lease_lost_at'),
  },
  (t) => [
    uniqueIndex('task_attempts_task_number_idx').on(t.taskId, t.number),
    index('task_attempts_agent_started_idx').on(t.agentId, t.startedAt),
    index('task_attempts_open_lease_idx').on(t.leaseExpiresAt).where(sql`${t.endedAt} is null`),
  ],
);

/**
 * Edges of the dependency graph: `task_id` starts only once `depends_on_id` has succeeded. Looked
 * up from the dependency's side whenever a task ends, hence the index on `depends_on_id`.
 */
export const taskDependencies = pgTable(
  'task_dependencies',
  {
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    dependsOnId: uuid('depends_on_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
  },
  (t) => [
    primaryKey({ columns: [t.taskId, t.dependsOnId] }),
    index('task_dependencies_depends_on_idx').on(t.dependsOnId),
  ],
);

/** Append-only log of everything an agent emitted. The id doubles as the SSE event id. */
export const taskEvents = pgTable(
  'task_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    attemptId: uuid('attempt_id'),
    type: text('type').notNull(),
    data: jsonb('data').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('task_events_task_idx').on(t.taskId, t.id)],
);

/**
 * The agent pool: one row per agent (a CLI with one credential and its limits). The credential is
 * stored encrypted (see src/agents/secrets.ts) and never leaves the worker that decrypts it.
 */
export const agents = pgTable('agents', {
  id: text('id').primaryKey(),
  cli: text('cli').notNull(),
  credentialClass: text('credential_class').$type<CredentialClass>().notNull(),
  credentialSecret: text('credential_secret').notNull(),
  /** First hex digits of the credential's SHA-256: tells whether it changed, reveals nothing. */
  credentialFingerprint: text('credential_fingerprint').notNull(),
  /** Owner of a personal subscription seat. */
  owner: text('owner'),
  definition: jsonb('definition').$type<AgentLimits>().notNull(),
  state: text('state').$type<'active' | 'paused' | 'disabled'>().notNull(),
  stateReason: text('state_reason'),
  /** Usage before this moment no longer counts against the agent's windows (reset-quota). */
  quotaResetAt: at('quota_reset_at'),
  /** A subscription window warned it is nearly used up; other agents are preferred until then. */
  warningUntil: at('warning_until'),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** Rest periods after a rate limit or an exhausted quota, per agent and model (`*`: every model). */
export const agentCooldowns = pgTable(
  'agent_cooldowns',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    model: text('model').notNull(),
    until: at('until').notNull(),
    reason: text('reason').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.model] })],
);

/**
 * Audit records written but not chained yet: each action's transaction inserts here without
 * waiting for any other, and the sealer (src/audit/audit-log.ts) moves them into `audit_log` in
 * order, chaining each onto the one before.
 */
export const auditPending = pgTable('audit_pending', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  at: at('at').notNull(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  taskId: uuid('task_id'),
  agentId: text('agent_id'),
  details: jsonb('details').notNull().default({}),
});

/** Who did what. Each row carries the hash of the previous one, so a changed row breaks the chain. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: at('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    taskId: uuid('task_id'),
    agentId: text('agent_id'),
    details: jsonb('details').notNull().default({}),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('audit_log_task_idx').on(t.taskId), index('audit_log_at_idx').on(t.at)],
);

/** API tokens. Only the SHA-256 of a token is kept; the token itself is shown once, when created. */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey(),
    /** Who the token stands for: recorded as the actor of what it does and the submitter of its tasks. */
    name: text('name').notNull(),
    role: text('role').$type<Role>().notNull(),
    tokenHash: text('token_hash').notNull(),
    /** The token's first characters, so people can tell their tokens apart. */
    prefix: text('prefix').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
    lastUsedAt: at('last_used_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_idx').on(t.tokenHash)],
);

/**
 * Alerts waiting to be grouped into one notification (src/notify). They are derived from the
 * audit log, whose last read id is kept in `notify_cursor`, so every process agrees and nothing
 * is sent twice or lost across restarts.
 */
export const pendingAlerts = pgTable(
  'pending_alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind').notNull(),
    groupKey: text('group_key').notNull(),
    severity: text('severity').notNull(),
    at: at('at').notNull(),
    facts: jsonb('facts').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('pending_alerts_group_idx').on(t.kind, t.groupKey)],
);

export const notifyCursor = pgTable('notify_cursor', {
  id: integer('id').primaryKey(),
  lastAuditId: bigint('last_audit_id', { mode: 'number' }).notNull(),
  /** The daily summary hour most recently sent (or skipped on first start). */
  lastSummaryAt: at('last_summary_at'),
});

/** Recurring tasks: a submission made again at each time a cron expression (UTC) names. */
export const schedules = pgTable('schedules', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  cron: text('cron').notNull(),
  submission: jsonb('submission').$type<Record<string, unknown>>().notNull(),
  enabled: boolean('enabled').notNull(),
  nextRunAt: at('next_run_at').notNull(),
  lastRunAt: at('last_run_at'),
  lastTaskId: uuid('last_task_id'),
  createdBy: text('created_by').notNull(),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** Postgres full-text search vector; generated by the database, never written by the application. */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * Project memory (src/memory): what earlier tasks learned about a repository, with provenance, so
 * later tasks on the same repository start from it. `repository` null is a global entry (admins).
 * An entry citing files is marked stale once a later commit changes one of them.
 */
export const memoryEntries = pgTable(
  'memory_entries',
  {
    id: uuid('id').primaryKey(),
    repository: text('repository'),
    kind: text('kind').$type<MemoryKind>().notNull(),
    title: text('title').notNull(),
    content: text('content').notNull(),
    /** Files the entry is about, relative to the repository root. */
    paths: text('paths').array().notNull(),
    /** The commit the entry describes. */
    commit: text('commit'),
    /**
     * The latest commit at which the cited files were found unchanged since `commit`: later checks
     * diff from here, so a repository's checks converge on a few recent commits.
     */
    verifiedCommit: text('verified_commit'),
    taskId: uuid('task_id'),
    createdBy: text('created_by').notNull(),
    createdAt: at('created_at').notNull(),
    staleAt: at('stale_at'),
    staleReason: text('stale_reason'),
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(
        sql`setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')`,
      ),
  },
  (t) => [
    index('memory_repository_idx').on(t.repository, t.createdAt),
    index('memory_search_idx').using('gin', t.search),
    index('memory_task_idx').on(t.taskId),
  ],
);

/**
 * GitHub webhook deliveries, one row per `X-GitHub-Delivery` id: a delivery seen twice is handled
 * once. The payload is kept so a delivery can be handled again (`supervisor github replay`).
 */
export const githubDeliveries = pgTable(
  'github_deliveries',
  {
    id: text('id').primaryKey(),
    event: text('event').notNull(),
    action: text('action'),
    repository: text('repository'),
    payload: jsonb('payload').notNull(),
    receivedAt: at('received_at').notNull(),
    handledAt: at('handled_at'),
    /** What handling it did: the task it started, or why it started none. */
    outcome: text('outcome'),
    taskId: uuid('task_id'),
    /** Found by the reconcile pass (GitHub never delivered it); its id is derived from what it is about. */
    reconciled: boolean('reconciled').notNull().default(false),
  },
  (t) => [index('github_deliveries_received_idx').on(t.receivedAt)],
);

/**
 * A task that came from GitHub and what has been posted for it there. The ids make every post
 * idempotent: a job that runs again edits what it created rather than posting twice.
 */
export const githubTasks = pgTable(
  'github_tasks',
  {
    taskId: uuid('task_id')
      .primaryKey()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    /** `owner/repo`. */
    repository: text('repository').notNull(),
    /** The App installation that answers for the repository (null in personal-token mode). */
    installationId: bigint('installation_id', { mode: 'number' }),
    /** The pull request's number, or the for a task about an issue. */
    number: integer('number').notNull(),
    /** The commit a review is of (null for a task about an issue). */
    headSha: text('head_sha'),
    trackingCommentId: bigint('tracking_comment_id', { mode: 'number' }),
    checkRunId: bigint('check_run_id', { mode: 'number' }),
    /** The check run's status as last posted: a job that runs again does not post it again. */
    checkRunStatus: text('check_run_status').$type<'queued' | 'in_progress' | 'completed'>(),
    /** The task's `retry_base_attempt` when its check run was created: a manual retry gets a new run. */
    checkRunRetryBase: integer('check_run_retry_base'),
    reviewId: bigint('review_id', { mode: 'number' }),
    reviewUrl: text('review_url'),
    /** Keys (src/github/review.ts findingKey) of the findings this task's review posted. */
    postedFindings: jsonb('posted_findings').$type<string[]>().notNull().default([]),
    /** The or pull request's page on GitHub. */
    url: text('url'),
    /** The title when the task was started (a change task's pull request is named after it). */
    title: text('title'),
    /** The pull request a change task opened. */
    pullNumber: integer('pull_number'),
    pullUrl: text('pull_url'),
    /** The last message from GitHub whose run's end was answered on the pull request. */
    answeredMessageId: uuid('answered_message_id'),
    createdAt: at('created_at').notNull(),
  },
  // One review per head commit of a pull request.
  (t) => [uniqueIndex('github_tasks_head_idx').on(t.repository, t.number, t.headSha)],
);

export type TaskRow = typeof tasks.$inferSelect;
export type SubmissionRow = typeof submissions.$inferSelect;
export type AttemptRow = typeof taskAttempts.$inferSelect;
export type TaskMessageRow = typeof taskMessages.$inferSelect;
export type ApprovalRow = typeof approvals.$inferSelect;
export type TaskEventRow = typeof taskEvents.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type ScheduleRow = typeof schedules.$inferSelect;
export type MemoryEntryRow = typeof memoryEntries.$inferSelect;
export type GitHubTaskRow = typeof githubTasks.$inferSelect;
export type GitHubDeliveryRow = typeof githubDeliveries.$inferSelect;
