import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { appendAudit } from '../audit/audit-log.ts';
import type { WaitReason } from '../core/admission.ts';
import { batchKey, batchRefusal } from '../core/batch-key.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { type DagProblem, dependencyVerdict, planDag } from '../core/dag.ts';
import { AppError } from '../core/errors.ts';
import { taskFingerprint } from '../core/fingerprint.ts';
import { eventsFrom, isTerminal, type TaskEvent, type TaskStatus, transition } from '../core/task-status.ts';
import type { BatchSubmission, BatchTaskSubmission, TaskSubmission } from '../core/task-types.ts';
import type { EventBus, TaskEventMessage } from '../events/bus.ts';
import { linksOf } from '../github/github-store.ts';
import { waitingTaskIds } from '../pool/pool-store.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import { closeApproval, getApproval, listApprovals, pendingApprovals } from '../store/approval-store.ts';
import type { CursorPosition } from '../store/cursor.ts';
import type { Db, Tx } from '../store/database.ts';
import { type InboxItem, waitingForPeople } from '../store/inbox-store.ts';
import { countMessages, insertMessage, listMessages, messageFrom } from '../store/message-store.ts';
import type { ApprovalRow, AttemptRow, GitHubTaskRow, TaskMessageRow, TaskRow } from '../store/schema.ts';
import { insertSubmission } from '../store/submission-store.ts';
import * as store from '../store/task-store.ts';
import { type RepositoryPolicy, repositoryRefusal } from '../workspace/repository-policy.ts';
import { recordStatusChange, runAgain } from './status-change.ts';
import { recordStatus } from './status-events.ts';

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
  /** Ids of the tasks it depends on. */
  dependsOn: string[];
  created: boolean;
  deduplicated: boolean;
}

/** What a batch created: its submission, its tasks in dependency order, and the id each key became. */
export interface BatchResult {
  submissionId: string;
  tasks: Array<{ key: string; task: TaskRow; dependsOn: string[] }>;
  ids: Record<string, string>;
}

export interface TaskWithTotals {
  task: TaskRow;
  dependsOn: string[];
  totals: store.AttemptTotals;
  /** Where on GitHub the task came from and what it posted there, for a task from GitHub. */
  github?: GitHubTaskRow;
  /** The tool call its agent waits for a person to approve, if it does. */
  approval?: ApprovalRow;
}

/** A task about to be inserted: the submission fields every kind of submission shares. */
type NewTaskSpec = Pick<
  TaskSubmission,
  | 'type'
  | 'payload'
  | 'priority'
  | 'run_after'
  | 'max_attempts'
  | 'max_cost_usd'
  | 'max_duration_seconds'
  | 'batch'
  | 'agent_cli'
>;

/** Batching settings (BATCH_SIZE, BATCH_INTERVAL_SECONDS); see docs/batching.md. */
export interface BatchingSettings {
  /** Most tasks per agent session; 1 turns batching off. */
  size: number;
  /** How long a `batch` task waits for companions before its job is due. */
  intervalSeconds: number;
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
  readonly #batching: BatchingSettings;
  readonly #messagesPerTask: number;
  readonly #now: () => Date;

  constructor(deps: {
    db: Db;
    queue: TaskQueue;
    bus: EventBus;
    defaultMaxAttempts: number;
    /** How far back a `dedupe: true` submission looks for the same work. */
    dedupWindowSeconds: number;
    repositoryPolicy: RepositoryPolicy;
    /** Default: batching off. */
    batching?: BatchingSettings;
    /** Messages a task takes, at most (TASK_MESSAGES_MAX). Default 10. */
    messagesPerTask?: number;
    now?: () => Date;
  }) {
    this.#messagesPerTask = deps.messagesPerTask ?? 10;
    this.#db = deps.db;
    this.#batching = deps.batching ?? { size: 1, intervalSeconds: 0 };
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
   * within the dedup window and not failed or cancelled is returned instead of a new one. With
   * `depends_on`, the task waits until those tasks have succeeded (see settleDependents).
   */
  async submit(submission: TaskSubmission, options: SubmitOptions): Promise<SubmitResult> {
    this.#checkRepository(submission.payload.repository, 'body.payload.repository');
    this.#checkBatch(submission, 'body.batch');
    // Lower case, as the database returns ids, so a dependency named in upper case is still found.
    const named = (submission.depends_on ?? []).map((id) => id.toLowerCase());
    const dependsOn = [...new Set(named)];
    if (submission.dedupe && dependsOn.length) {
      const message =
        'dedupe cannot be combined with depends_on: a duplicate would not wait for the dependencies';
      throw new AppError('validation_failed', `invalid body: body.dedupe: ${message}`, [
        { field: 'body.dedupe', message },
      ]);
    }
    const requestHash = createHash('sha256').update(canonicalJson(submission)).digest('hex');
    if (options.idempotencyKey) {
      const existing = await store.findTaskByIdempotencyKey(this.#db, options.idempotencyKey);
      if (existing) return this.#replayOf(existing, requestHash);
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
        const statuses = await lockDependencies(
          tx,
          dependsOn.map((id) => ({ id, field: `body.depends_on.${named.indexOf(id)}` })),
        );
        const { task, events } = await this.#create(tx, submission, {
          id: randomUUID(),
          waiting: dependencyVerdict(statuses).kind === 'wait',
          dependsOn,
          idempotencyKey: options.idempotencyKey ?? null,
          requestHash,
          fingerprint,
          actor: options.actor,
          now,
        });
        return { task, events, deduplicated: false };
      });
      this.#bus.publish(events);
      return {
        task,
        dependsOn: deduplicated ? await this.#dependsOn(task.id) : dependsOn,
        created: !deduplicated,
        deduplicated,
      };
    } catch (error) {
      // Two requests with the same new key raced; the loser answers like a repeat of the winner.
      if (options.idempotencyKey && isUniqueViolation(error)) {
        const existing = await store.findTaskByIdempotencyKey(this.#db, options.idempotencyKey);
        if (existing) return this.#replayOf(existing, requestHash);
      }
      throw error;
    }
  }

  /**
   * Creates a graph of tasks in one transaction: each may depend on tasks of the batch (by key) and
   * on existing tasks (by id). The graph is checked first (unknown keys, cycles: see planDag), and
   * the tasks are created in dependency order; those with unfinished dependencies wait.
   */
  async submitBatch(batch: BatchSubmission, options: { actor: Actor }): Promise<BatchResult> {
    batch.tasks.forEach((task, index) => {
      this.#checkRepository(task.payload.repository, `body.tasks.${index}.payload.repository`);
      this.#checkBatch(task, `body.tasks.${index}.batch`);
    });
    const plan = planDag(batch.tasks.map((task) => ({ key: task.key, dependsOn: task.depends_on ?? [] })));
    if (!plan.ok) throw invalidBody(plan.problems);
    const ids = Object.fromEntries(plan.order.map((node) => [node.key, randomUUID()]));
    const submissionId = randomUUID();

    const { tasks, events } = await this.#db.transaction(async (tx) => {
      const now = this.#now();
      await insertSubmission(tx, {
        id: submissionId,
        submittedBy: options.actor.name,
        taskCount: plan.order.length,
        createdAt: now,
      });
      const existing = plan.order.flatMap((node) =>
        node.dependsOnTaskIds.map((id) => ({ id, field: `body.tasks.${node.index}.depends_on` })),
      );
      const statuses = new Map((await lockDependencies(tx, existing)).map((d) => [d.id, d.status]));
      const tasks: BatchResult['tasks'] = [];
      const events: TaskEventMessage[] = [];
      for (const node of plan.order) {
        const submission: BatchTaskSubmission = batch.tasks[node.index]!;
        const dependsOn = [...node.dependsOnKeys.map((key) => ids[key]!), ...node.dependsOnTaskIds];
        // Tasks of the batch have not run yet, so a task depending on one always waits.
        const waiting =
          node.dependsOnKeys.length > 0 ||
          dependencyVerdict(node.dependsOnTaskIds.map((id) => ({ id, status: statuses.get(id)! }))).kind ===
            'wait';
        const created = await this.#create(tx, submission, {
          id: ids[node.key]!,
          waiting,
          dependsOn,
          idempotencyKey: null,
          requestHash: null,
          fingerprint: taskFingerprint(submission.type, submission.payload),
          actor: options.actor,
          now,
          batchKey: node.key,
          submissionId,
        });
        tasks.push({ key: node.key, task: created.task, dependsOn });
        events.push(...created.events);
      }
      return { tasks, events };
    });
    this.#bus.publish(events);
    return { submissionId, tasks, ids };
  }

  /**
   * Inserts one task with its dependency edges, its audit record and its first status event. A
   * task with unfinished dependencies is `waiting` and gets no queue job until settleDependents
   * releases it; any other is `queued` with its job.
   */
  async #create(
    tx: Tx,
    submission: NewTaskSpec,
    spec: {
      id: string;
      waiting: boolean;
      dependsOn: string[];
      idempotencyKey: string | null;
      requestHash: string | null;
      fingerprint: string;
      actor: Actor;
      now: Date;
      batchKey?: string;
      submissionId?: string;
    },
  ): Promise<{ task: TaskRow; events: TaskEventMessage[] }> {
    const { id, now } = spec;
    const runAfter = submission.run_after ? new Date(submission.run_after) : null;
    const jobId = spec.waiting ? null : randomUUID();
    // A batch task's job is due once the interval has given companions time to arrive; whichever
    // job of a key comes first takes the others along (AttemptLifecycle.begin).
    const batching = submission.batch === true && this.#batching.size > 1;
    const batchDue = new Date(now.getTime() + this.#batching.intervalSeconds * 1000);
    const startAfter = batching && (!runAfter || runAfter < batchDue) ? batchDue : runAfter;
    const task = await store.insertTask(tx, {
      id,
      type: submission.type,
      status: spec.waiting ? 'waiting' : 'queued',
      priority: submission.priority,
      repository: submission.payload.repository,
      payload: submission.payload,
      maxAttempts: submission.max_attempts ?? this.#defaultMaxAttempts,
      maxCostUsd: submission.max_cost_usd ?? null,
      maxDurationSeconds: submission.max_duration_seconds ?? null,
      agentCli: submission.agent_cli ?? null,
      runAfter,
      dispatchJobId: jobId,
      idempotencyKey: spec.idempotencyKey,
      requestHash: spec.requestHash,
      fingerprint: spec.fingerprint,
      batchKey: submission.batch ? batchKey(submission.type, submission.payload) : null,
      submittedBy: spec.actor.name,
      submissionId: spec.submissionId ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await store.insertDependencies(
      tx,
      spec.dependsOn.map((dependsOnId) => ({ taskId: id, dependsOnId })),
    );
    if (jobId) {
      await this.#queue.dispatch(tx, id, {
        jobId,
        priority: submission.priority,
        ...(startAfter ? { startAfter } : {}),
      });
    }
    await appendAudit(tx, {
      at: now,
      actor: spec.actor.name,
      action: 'task.submitted',
      taskId: id,
      details: {
        type: task.type,
        priority: task.priority,
        repository: task.repository,
        ...(spec.dependsOn.length ? { dependsOn: spec.dependsOn } : {}),
        ...(spec.batchKey ? { batchKey: spec.batchKey } : {}),
        ...(spec.submissionId ? { submission: spec.submissionId } : {}),
        ...(submission.batch ? { batch: true } : {}),
        ...origin(spec.actor),
      },
    });
    return { task, events: await recordStatus(tx, task, now) };
  }

  #checkBatch(submission: NewTaskSpec, field: string): void {
    const refusal = submission.batch ? batchRefusal(submission) : undefined;
    if (refusal) throw invalidBody([{ field, message: refusal }]);
  }

  #checkRepository(repository: string, field: string): void {
    const refusal = repositoryRefusal(repository, this.#repositoryPolicy);
    if (refusal) throw invalidBody([{ field, message: refusal }]);
  }

  /** The answer to a repeated Idempotency-Key: its task, if the body is the same as the first time. */
  async #replayOf(existing: TaskRow, requestHash: string): Promise<SubmitResult> {
    if (existing.requestHash !== requestHash) {
      throw new AppError(
        'idempotency_key_reused',
        `Idempotency-Key was already used for task ${existing.id} with a different request body`,
        { task_id: existing.id },
      );
    }
    return {
      task: existing,
      dependsOn: await this.#dependsOn(existing.id),
      created: false,
      deduplicated: false,
    };
  }

  async #dependsOn(id: string): Promise<string[]> {
    return (await store.dependenciesOf(this.#db, [id])).get(id) ?? [];
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
    const [totals, links, [approval]] = await Promise.all([
      store.attemptTotals(this.#db, [id]),
      linksOf(this.#db, [id]),
      pendingApprovals(this.#db, [id]),
    ]);
    const github = links.get(id);
    return {
      task,
      dependsOn: await this.#dependsOn(id),
      totals: totals.get(id) ?? NO_TOTALS,
      ...(github ? { github } : {}),
      ...(approval ? { approval } : {}),
    };
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
    const ids = pageRows.map((row) => row.id);
    const running = pageRows.filter((row) => row.status === 'running').map((row) => row.id);
    const [totals, dependencies, links, waiting] = await Promise.all([
      store.attemptTotals(this.#db, ids),
      store.dependenciesOf(this.#db, ids),
      linksOf(this.#db, ids),
      pendingApprovals(this.#db, running),
    ]);
    const approvals = new Map<string, ApprovalRow>();
    for (const approval of waiting)
      if (!approvals.has(approval.taskId)) approvals.set(approval.taskId, approval);
    const items = pageRows.map((task) => {
      const github = links.get(task.id);
      const approval = approvals.get(task.id);
      return {
        task,
        dependsOn: dependencies.get(task.id) ?? [],
        totals: totals.get(task.id) ?? NO_TOTALS,
        ...(github ? { github } : {}),
        ...(approval ? { approval } : {}),
      };
    });
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
      const events = await recordStatusChange(tx, updated, this.#queue, now);
      return { task: updated, stopping: false, events };
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
      await requireDependenciesSucceeded(tx, id);
      const now = this.#now();
      const attempts = await store.listAttempts(tx, id);
      await appendAudit(tx, {
        at: now,
        actor: actor.name,
        action: 'task.retried',
        taskId: id,
        details: { previousStatus: task.status, ...origin(actor) },
      });
      return runAgain(tx, this.#queue, task, to, attempts.length, now);
    });
    this.#bus.publish(events);
    return task;
  }

  /**
   * A person's message to a task: an answer to the question it stopped on (or to another failure),
   * or a follow-up to its result. A finished task is queued again, and its next run resumes the
   * agent's session with the message; to a task still in progress, the message waits and starts
   * the run after the current one (`run_base` null until then). Earlier attempts, results and
   * messages are kept. The same `source` twice (a redelivered webhook) is one message.
   */
  async sendMessage(
    id: string,
    text: string,
    actor: Actor,
    options: { source?: string } = {},
  ): Promise<{ message: TaskMessageRow; task: TaskRow; duplicate: boolean }> {
    const { message, task, events, duplicate } = await this.#db.transaction(async (tx) => {
      const task = await lockTask(tx, id);
      const sent = options.source ? await messageFrom(tx, id, options.source) : undefined;
      if (sent) return { message: sent, task, events: [], duplicate: true };
      if (task.status === 'waiting') {
        throw new AppError(
          'task_in_progress',
          `task ${id} is waiting for the tasks it depends on and has not run: send the message once it has`,
          { status: task.status },
        );
      }
      const finished = isTerminal(task.status);
      const to = finished ? allowed(task, 'follow_up') : undefined;
      const attempts = await store.listAttempts(tx, id);
      if (finished && attempts.length === 0) {
        throw new AppError(
          'task_never_ran',
          `task ${id} ended ${task.outcome ?? task.status} before an agent ran, so there is no session to continue: retry it instead`,
        );
      }
      const count = await countMessages(tx, id);
      if (count >= this.#messagesPerTask) {
        throw new AppError(
          'message_limit',
          `task ${id} has had its ${count} messages (TASK_MESSAGES_MAX): submit a new task to go on`,
          { limit: this.#messagesPerTask },
        );
      }
      const now = this.#now();
      const message = await insertMessage(tx, {
        id: randomUUID(),
        taskId: id,
        author: actor.name,
        text,
        // A waiting message's kind and run are set when its run starts (status-change.ts).
        kind: task.status === 'succeeded' || !finished ? 'follow_up' : 'answer',
        earlier: finished ? (task.resultText ?? task.question) : null,
        runBase: finished ? attempts.length : null,
        source: options.source ?? null,
        createdAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: actor.name,
        action: finished ? 'task.message_sent' : 'task.message_queued',
        taskId: id,
        details: { message: message.id, kind: message.kind, previousStatus: task.status, ...origin(actor) },
      });
      if (!to) return { message, task, events: [], duplicate: false };
      return {
        message,
        duplicate: false,
        ...(await runAgain(tx, this.#queue, task, to, attempts.length, now)),
      };
    });
    this.#bus.publish(events);
    return { message, task, duplicate };
  }

  /**
   * What waits for a person, longest wait first: a task that stopped on a question (answer it with
   * a message), a tool call waiting for approval, and a task parked because no enabled agent can
   * run it (add, fix or resume one).
   */
  async inbox(limit: number): Promise<InboxItem[]> {
    return waitingForPeople(this.#db, limit);
  }

  /** A task's messages, oldest first. */
  async messages(id: string): Promise<TaskMessageRow[]> {
    await this.get(id);
    return listMessages(this.#db, id);
  }

  /** A task's approvals (tool calls that waited for a person), oldest first. */
  async approvals(id: string): Promise<ApprovalRow[]> {
    await this.get(id);
    return listApprovals(this.#db, id);
  }

  /**
   * Approves or denies a tool call its agent waits on; the worker running the agent sees the
   * decision within a poll and answers the CLI. The first decision wins: a call already decided,
   * expired or withdrawn answers 409 `approval_closed`.
   */
  async decideApproval(
    taskId: string,
    approvalId: string,
    decision: { approve: boolean; note: string | null },
    actor: Actor,
  ): Promise<ApprovalRow> {
    return this.#db.transaction(async (tx) => {
      const approval = await getApproval(tx, approvalId);
      if (!approval || approval.taskId !== taskId) {
        throw new AppError('not_found', `task ${taskId} has no approval ${approvalId}`);
      }
      const now = this.#now();
      const status = decision.approve ? 'approved' : 'denied';
      const closed = await closeApproval(tx, approvalId, {
        status,
        decidedBy: actor.name,
        note: decision.note,
        at: now,
      });
      if (!closed) {
        throw new AppError(
          'approval_closed',
          `approval ${approvalId} is already ${approval.status}${approval.decidedBy ? ` (by ${approval.decidedBy})` : ''}: nothing waits for it any more`,
          { status: approval.status },
        );
      }
      await appendAudit(tx, {
        at: now,
        actor: actor.name,
        action: `approval.${status}`,
        taskId,
        details: {
          approval: approvalId,
          tool: approval.tool,
          ...(decision.note ? { note: decision.note } : {}),
          ...origin(actor),
        },
      });
      return closed;
    });
  }

  /**
   * Gives up to `limit` tasks waiting for an agent (parked, or queued for a slot), most urgent
   * first, another look now: their job moves up to now and a parked task is queued again (a task
   * that still fits no agent waits again). Called when capacity frees up or agents change.
   */
  async wakeParked(limit: number, reasons?: readonly WaitReason[]): Promise<number> {
    let woken = 0;
    for (const id of await waitingTaskIds(this.#db, limit, reasons)) {
      const events = await this.#db.transaction(async (tx) => {
        const task = await store.getTask(tx, id, { lock: true });
        if (!task?.parkReason || !['queued', 'retrying', 'parked'].includes(task.status)) return [];
        const now = this.#now();
        const jobId = await this.#queue.dispatch(tx, id, { priority: task.priority });
        const updated = await store.updateTask(tx, id, {
          status: task.status === 'parked' ? allowed(task, 'wake') : task.status,
          dispatchJobId: jobId,
          parkedUntil: null,
          parkReason: null,
          parkDetail: null,
          updatedAt: now,
        });
        woken += 1;
        return task.status === 'parked' ? recordStatusChange(tx, updated, this.#queue, now) : [];
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

/**
 * Locks the dependencies a submission names (see store.lockTasksForShare) and returns their
 * statuses. Refused with the field that named it: a task that does not exist, and one that failed
 * or was cancelled, since the new task could never start.
 */
async function lockDependencies(
  tx: Tx,
  refs: Array<{ id: string; field: string }>,
): Promise<Array<{ id: string; status: TaskStatus }>> {
  const found = new Map(
    (await store.lockTasksForShare(tx, [...new Set(refs.map((ref) => ref.id))])).map((t) => [t.id, t]),
  );
  const problems: DagProblem[] = [];
  for (const { id, field } of refs) {
    const task = found.get(id);
    if (!task) problems.push({ field, message: `no task with id ${id}` });
    else if (task.status === 'failed' || task.status === 'cancelled')
      problems.push({
        field,
        message: `task ${id} is ${task.status}, so a task depending on it could never start; retry it first or leave it out`,
      });
  }
  if (problems.length) throw invalidBody(problems);
  return [...found.values()].map((task) => ({ id: task.id, status: task.status }));
}

/** A manual retry runs the task now, so everything it depends on must have succeeded. */
async function requireDependenciesSucceeded(tx: Tx, id: string): Promise<void> {
  const unfinished = (await store.dependencyStatuses(tx, id)).filter((d) => d.status !== 'succeeded');
  if (unfinished.length === 0) return;
  const list = unfinished.map((d) => `${d.id} (${d.status})`).join(', ');
  throw new AppError(
    'dependencies_not_succeeded',
    `task ${id} cannot run again until its dependencies succeed: ${list}; retry those first`,
    { dependencies: unfinished },
  );
}

function invalidBody(problems: DagProblem[]): AppError {
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  return new AppError('validation_failed', `invalid body: ${summary}`, problems);
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
