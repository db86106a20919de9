import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { appendAudit } from '../audit/audit-log.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { AppError } from '../core/errors.ts';
import { taskFingerprint } from '../core/fingerprint.ts';
import { eventsFrom, type TaskEvent, type TaskStatus, transition } from '../core/task-status.ts';
import type { TaskSubmission } from '../core/task-types.ts';
import type { EventBus, TaskEventMessage } from '../events/bus.ts';
import { parkedTaskIds } from '../pool/pool-store.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import type { CursorPosition } from '../store/cursor.ts';
import type { Db, Queryable, Tx } from '../store/database.ts';
import type { AttemptRow, TaskRow } from '../store/schema.ts';
import * as store from '../store/task-store.ts';
import { type RepositoryPolicy, repositoryRefusal } from '../workspace/repository-policy.ts';

/** Who asked for an operation, for the audit trail. */
export interface Actor {
  name: string;
  ip?: string;
  userAgent?: string;
}

export interface SubmitOptions {
  actor: Actor;
  idempotencyKey?: string;
}

/**
 * What a submission did: `created` a task, or returned an existing one, either as the repeat of an
 * Idempotency-Key (`deduplicated: false`) or as a duplicate of a recent task (`deduplicated: true`).
 */
export interface SubmitResult {
  task: TaskRow;
  created: boolean;
  deduplicated: boolean;
}

export interface TaskWithTotals {
  task: TaskRow;
  totals: store.AttemptTotals;
}

/**
 * Tasks in these statuses are never returned as duplicates: a failed or cancelled run did not
 * deliver its result, so submitting the same work again must run it again (`retry` would too,
 * but a client resubmitting from a script should not have to know about the earlier task).
 */
const NOT_REUSED_BY_DEDUP: TaskStatus[] = ['failed', 'cancelled'];

/**
 * First key of the two-key advisory lock that serialises dedupe submissions of one fingerprint
 * (the second is the fingerprint's hash). The two-key form is a key space of its own, apart from
 * the single-key locks used elsewhere.
 */
const DEDUP_LOCK_CLASS = 70_204_246;

/** Totals of a task that has no attempts yet. */
export const NO_TOTALS: store.AttemptTotals = {
  attempts: 0,
  costUsd: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};

/**
 * The operations people perform on tasks: submit, read, cancel, retry. Each change runs in one
 * transaction together with its queue job, its status event and its audit record; events are
 * published only after that transaction commits.
 */
export class TaskService {
  readonly #db: Db;
  readonly #queue: TaskQueue;
  readonly #bus: EventBus;
  readonly #defaultMaxAttempts: number;
  readonly #dedupWindowSeconds: number;
  readonly #repositoryPolicy: RepositoryPolicy;
  readonly #now: () => Date;

  constructor(deps: {
    db: Db;
    queue: TaskQueue;
    bus: EventBus;
    defaultMaxAttempts: number;
    /** How far back a `dedupe: true` submission looks for the same work. */
    dedupWindowSeconds: number;
    repositoryPolicy: RepositoryPolicy;
    now?: () => Date;
  }) {
    this.#db = deps.db;
    this.#repositoryPolicy = deps.repositoryPolicy;
    this.#queue = deps.queue;
    this.#bus = deps.bus;
    this.#defaultMaxAttempts = deps.defaultMaxAttempts;
    this.#dedupWindowSeconds = deps.dedupWindowSeconds;
    this.#now = deps.now ?? (() => new Date());
  }

  /**
   * Creates and enqueues a task. With an idempotency key, repeating the same request returns the
   * task it created (`created: false`); the same key with a different body is a conflict. The key
   * is checked first; with `dedupe: true`, a task of the same content (see taskFingerprint) created
   * within the dedup window and not failed or cancelled is returned instead of a new one.
   */
  async submit(submission: TaskSubmission, options: SubmitOptions): Promise<SubmitResult> {
    const refusal = repositoryRefusal(submission.payload.repository, this.#repositoryPolicy);
    if (refusal) {
      const field = 'body.payload.repository';
      throw new AppError('validation_failed', `invalid body: ${field}: ${refusal}`, [
        { field, message: refusal },
      ]);
    }
    const requestHash = createHash('sha256').update(canonicalJson(submission)).digest('hex');
    if (options.idempotencyKey) {
      const existing = await store.findTaskByIdempotencyKey(this.#db, options.idempotencyKey);
      if (existing) return replayOf(existing, requestHash);
    }
    // Stored on every task, so a dedupe submission also finds work submitted without the option.
    const fingerprint = taskFingerprint(submission.type, submission.payload);
    try {
      const { task, events, deduplicated } = await this.#db.transaction(async (tx) => {
        const now = this.#now();
        if (submission.dedupe) {
          const duplicate = await this.#findDuplicate(tx, fingerprint, now);
          if (duplicate) {
            await appendAudit(tx, {
              at: now,
              actor: options.actor.name,
              action: 'task.deduplicated',
              taskId: duplicate.id,
              details: { type: duplicate.type, repository: duplicate.repository, ...origin(options.actor) },
            });
            return { task: duplicate, events: [], deduplicated: true };
          }
        }
        const runAfter = submission.run_after ? new Date(submission.run_after) : null;
        const id = randomUUID();
        const jobId = randomUUID();
        const task = await store.insertTask(tx, {
          id,
          type: submission.type,
          status: 'queued',
          priority: submission.priority,
          repository: submission.payload.repository,
          payload: submission.payload,
          maxAttempts: submission.max_attempts ?? this.#defaultMaxAttempts,
          maxCostUsd: submission.max_cost_usd ?? null,
          maxDurationSeconds: submission.max_duration_seconds ?? null,
          runAfter,
          dispatchJobId: jobId,
          idempotencyKey: options.idempotencyKey ?? null,
          requestHash,
          fingerprint,
          submittedBy: options.actor.name,
          createdAt: now,
          updatedAt: now,
        });
        await this.#queue.dispatch(tx, id, {
          jobId,
          priority: submission.priority,
          ...(runAfter ? { startAfter: runAfter } : {}),
        });
        await appendAudit(tx, {
          at: now,
          actor: options.actor.name,
          action: 'task.submitted',
          taskId: id,
          details: {
            type: task.type,
            priority: task.priority,
            repository: task.repository,
            ...origin(options.actor),
          },
        });
        const events = await recordStatus(tx, task, now);
        return { task, events, deduplicated: false };
      });
      this.#bus.publish(events);
      return { task, created: !deduplicated, deduplicated };
    } catch (error) {
      // Two requests with the same new key raced; the loser answers like a repeat of the winner.
      if (options.idempotencyKey && isUniqueViolation(error)) {
        const existing = await store.findTaskByIdempotencyKey(this.#db, options.idempotencyKey);
        if (existing) return replayOf(existing, requestHash);
      }
      throw error;
    }
  }

  /**
   * The newest task of this fingerprint within the dedup window that may stand in for a new one.
   * Takes a transaction lock on the fingerprint first, so of several identical submissions racing,
   * one creates the task and the others, waiting on the lock, find it once it is committed.
   */
  async #findDuplicate(tx: Tx, fingerprint: string, now: Date): Promise<TaskRow | undefined> {
    await tx.execute(sql`select pg_advisory_xact_lock(${DEDUP_LOCK_CLASS}, hashtext(${fingerprint}))`);
    const since = new Date(now.getTime() - this.#dedupWindowSeconds * 1000);
    return store.findRecentTaskByFingerprint(tx, fingerprint, since, NOT_REUSED_BY_DEDUP);
  }

  async get(id: string): Promise<TaskWithTotals> {
    const task = await store.getTask(this.#db, id);
    if (!task) throw taskNotFound(id);
    const totals = await store.attemptTotals(this.#db, [id]);
    return { task, totals: totals.get(id) ?? NO_TOTALS };
  }

  /** Stored events of a task after `afterId`, oldest first. */
  async events(id: string, page: { afterId: number; limit: number }): Promise<TaskEventMessage[]> {
    return store.listEvents(this.#db, id, page);
  }

  async attempts(id: string): Promise<AttemptRow[]> {
    await this.get(id);
    return store.listAttempts(this.#db, id);
  }

  async list(
    filters: store.TaskFilters,
    page: { limit: number; after?: CursorPosition },
  ): Promise<{ items: TaskWithTotals[]; next?: CursorPosition }> {
    // One row more than asked tells whether another page exists without a count query.
    const rows = await store.listTasks(this.#db, filters, { limit: page.limit + 1, after: page.after });
    const pageRows = rows.slice(0, page.limit);
    const totals = await store.attemptTotals(
      this.#db,
      pageRows.map((row) => row.id),
    );
    const items = pageRows.map((task) => ({ task, totals: totals.get(task.id) ?? NO_TOTALS }));
    const last = pageRows.at(-1);
    return rows.length > page.limit && last
      ? { items, next: { createdAt: last.createdAt, id: last.id } }
      : { items };
  }

  /**
   * Cancels a task. One that has not started is cancelled at once and never starts; a running one
   * is marked, and its worker stops the agent and records the attempt as cancelled.
   */
  async cancel(id: string, actor: Actor): Promise<{ task: TaskRow; stopping: boolean }> {
    const result = await this.#db.transaction(async (tx) => {
      const task = await lockTask(tx, id);
      const now = this.#now();
      if (task.status === 'running') {
        const updated = task.cancelRequestedAt
          ? task
          : await store.updateTask(tx, id, { cancelRequestedAt: now, updatedAt: now });
        await appendAudit(tx, {
          at: now,
          actor: actor.name,
          action: 'task.cancel_requested',
          taskId: id,
          details: origin(actor),
        });
        return { task: updated, stopping: true, events: [] as TaskEventMessage[] };
      }
      const to = allowed(task, 'cancel');
      const updated = await store.updateTask(tx, id, {
        status: to,
        outcome: 'cancelled',
        cancelRequestedAt: now,
        finishedAt: now,
        updatedAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: actor.name,
        action: 'task.cancelled',
        taskId: id,
        details: origin(actor),
      });
      return { task: updated, stopping: false, events: await recordStatus(tx, updated, now) };
    });
    this.#bus.publish(result.events);
    if (!result.stopping && result.task.dispatchJobId) await this.#queue.withdraw(result.task.dispatchJobId);
    return { task: result.task, stopping: result.stopping };
  }

  /** Runs a failed or cancelled task again. Earlier attempts are kept; the task gets a fresh attempt budget. */
  async retry(id: string, actor: Actor): Promise<TaskRow> {
    const { task, events } = await this.#db.transaction(async (tx) => {
      const task = await lockTask(tx, id);
      const to = allowed(task, 'manual_retry');
      const now = this.#now();
      const attempts = await store.listAttempts(tx, id);
      const jobId = await this.#queue.dispatch(tx, id, { priority: task.priority });
      const updated = await store.updateTask(tx, id, {
        status: to,
        dispatchJobId: jobId,
        retryBaseAttempt: attempts.length,
        runAfter: null,
        outcome: null,
        error: null,
        resultText: null,
        result: null,
        cancelRequestedAt: null,
        finishedAt: null,
        updatedAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: actor.name,
        action: 'task.retried',
        taskId: id,
        details: { previousStatus: task.status, ...origin(actor) },
      });
      return { task: updated, events: await recordStatus(tx, updated, now) };
    });
    this.#bus.publish(events);
    return task;
  }

  /**
   * Moves up to `limit` parked tasks, most urgent first, back to the queue to try admission again
   * (a task that still fits no agent parks again). Called when capacity frees up.
   */
  async wakeParked(limit: number): Promise<number> {
    let woken = 0;
    for (const id of await parkedTaskIds(this.#db, limit)) {
      const events = await this.#db.transaction(async (tx) => {
        const task = await store.getTask(tx, id, { lock: true });
        if (task?.status !== 'parked') return [];
        const now = this.#now();
        const jobId = await this.#queue.dispatch(tx, id, { priority: task.priority });
        const queued = await store.updateTask(tx, id, {
          status: allowed(task, 'wake'),
          dispatchJobId: jobId,
          parkedUntil: null,
          updatedAt: now,
        });
        woken += 1;
        return recordStatus(tx, queued, now);
      });
      this.#bus.publish(events);
    }
    return woken;
  }

  async stats(): Promise<{
    byStatus: Record<string, number>;
    byType: Record<string, number>;
    totals: Awaited<ReturnType<typeof store.overallTotals>>;
  }> {
    const [byStatus, byType, totals] = await Promise.all([
      store.countTasksBy(this.#db, 'status'),
      store.countTasksBy(this.#db, 'type'),
      store.overallTotals(this.#db),
    ]);
    return { byStatus, byType, totals };
  }
}

/** Stores a `status` event for the task's current status; returns it for publishing after commit. */
export async function recordStatus(tx: Queryable, task: TaskRow, at: Date): Promise<TaskEventMessage[]> {
  return store.insertEvents(tx, [
    {
      taskId: task.id,
      attemptId: null,
      type: 'status',
      data: { status: task.status, outcome: task.outcome, error: task.error },
      createdAt: at,
    },
  ]);
}

export async function lockTask(tx: Tx, id: string): Promise<TaskRow> {
  const task = await store.getTask(tx, id, { lock: true });
  if (!task) throw taskNotFound(id);
  return task;
}

/** The status `event` leads to, or a 409 that says what is allowed instead. */
export function allowed(task: TaskRow, event: TaskEvent): TaskStatus {
  const result = transition(task.status, event);
  if (!result.ok)
    throw new AppError('invalid_transition', result.reason, {
      status: task.status,
      event,
      allowed: eventsFrom(task.status),
    });
  return result.to;
}

/** The answer to a repeated Idempotency-Key: its task, if the body is the same as the first time. */
function replayOf(existing: TaskRow, requestHash: string): SubmitResult {
  if (existing.requestHash !== requestHash) {
    throw new AppError(
      'idempotency_key_reused',
      `Idempotency-Key was already used for task ${existing.id} with a different request body`,
      { task_id: existing.id },
    );
  }
  return { task: existing, created: false, deduplicated: false };
}

function taskNotFound(id: string): AppError {
  return new AppError('task_not_found', `no task with id ${id}`);
}

function origin(actor: Actor): Record<string, string> {
  return {
    ...(actor.ip ? { ip: actor.ip } : {}),
    ...(actor.userAgent ? { userAgent: actor.userAgent } : {}),
  };
}

function isUniqueViolation(error: unknown): boolean {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    if ((current as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
