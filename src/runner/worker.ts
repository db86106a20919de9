import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type AgentEvent, type AgentRunReport, STOP_REASONS, type StopReason } from '../agents/driver.ts';
import { countTools, type ToolSummary } from '../audit/tool-summary.ts';
import type { WaitReason } from '../core/admission.ts';
import { type ApprovalPolicy, ruleFor } from '../core/approval-policy.ts';
import { ZERO_USAGE } from '../core/outcome.ts';
import type { EventBus } from '../events/bus.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { DispatchJob, TaskQueue } from '../queue/task-queue.ts';
import type { Db } from '../store/database.ts';
import { tasksWithWaitingMessages } from '../store/message-store.ts';
import * as store from '../store/task-store.ts';
import { whileUnavailable } from '../store/unavailable.ts';
import type { AttemptEnd, AttemptLifecycle, BeginResult } from './attempt-lifecycle.ts';
import type { AttemptRunner } from './attempt-runner.ts';
import { AttemptPeople } from './people-channel.ts';
import { UsageRecorder } from './usage-recorder.ts';

/** How long a finished attempt waits for an unreachable database before its result is given up. */
const FINISH_MAX_WAIT_MS = 10 * 60_000;
/** How long a batch of agent events waits for an unreachable database. */
const EVENTS_MAX_WAIT_MS = 2 * 60_000;

export interface WorkerDeps {
  db: Db;
  queue: TaskQueue;
  bus: EventBus;
  lifecycle: AttemptLifecycle;
  runner: AttemptRunner;
  /** Moves up to `limit` tasks waiting for an agent back to the queue (they wait again if none fits). */
  wakeParked(limit: number, reasons?: readonly WaitReason[]): Promise<unknown>;
  concurrency: number;
  /** Which tool calls wait for a person, and for how long by default. */
  approvals: { policy: ApprovalPolicy; defaultTimeoutMs: number };
  /** How often running tasks are checked for a cancel request or a message for their agent. */
  cancelPollIntervalMs: number;
  /** How often running attempts' leases are renewed, and lost attempts looked for. */
  leaseRenewMs: number;
  logger: Logger;
  now: () => Date;
}

interface RunningAttempt {
  controller: AbortController;
  finished: Promise<void>;
  /** The tasks the agent session runs: one, or the lead and the others of a batch. */
  taskIds: string[];
  /** Their attempts, the lead's first: the leases this worker renews. */
  attemptIds: string[];
  /** What people send the agent while it works (not for a batch, whose session several tasks share). */
  people?: AttemptPeople;
}

/** Where a session's events are stored: every task of a batch keeps the whole stream. */
type EventTarget = { taskId: string; attemptId: string };

/** How long a slot pauses after its machine had no room for another agent. */
const MACHINE_SHORT_PAUSE_MS = 5000;

/**
 * Takes dispatch jobs off the queue and runs one attempt per job, at most `concurrency` at a time.
 * It also notices cancellations and messages for running agents (by polling the database, which
 * works across processes) and, on shutdown, stops taking work and hands back what does not finish
 * within the grace period.
 */
export class Worker {
  readonly #deps: WorkerDeps;
  readonly #running = new Map<string, RunningAttempt>();
  #cancelTimer: NodeJS.Timeout | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  #started = false;
  /** Aborted by stop(): ends a slot's pause on a machine without room. */
  readonly #stopping = new AbortController();
  #metrics: Pick<Metrics, 'observeAttempt'> | undefined;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
  }

  /** Reports each recorded attempt (duration, tokens, cost, failovers, watchdog kills) to `metrics`. */
  instrument(metrics: Pick<Metrics, 'observeAttempt'>): void {
    this.#metrics = metrics;
  }

  get driverName(): string {
    return this.#deps.runner.driverName;
  }

  get runningTaskIds(): string[] {
    return [...this.#running.values()].flatMap((run) => run.taskIds);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#deps.queue.work(this.#deps.concurrency, (job) => this.#handle(job));
    this.#cancelTimer = setInterval(() => void this.#pollCancellations(), this.#deps.cancelPollIntervalMs);
    this.#cancelTimer.unref();
    this.#leaseTimer = setInterval(() => void this.#keepLeases(), this.#deps.leaseRenewMs);
    this.#leaseTimer.unref();
  }

  /**
   * Renews the leases of the attempts this worker runs, stopping any that was recovered elsewhere
   * meanwhile, then recovers attempts whose worker is gone (any worker's). A database outage only
   * delays both: a lease renewed when the database is back was never lost.
   */
  async #keepLeases(): Promise<void> {
    const { lifecycle, logger } = this.#deps;
    const ids = [...this.#running.values()].flatMap((run) => run.attemptIds);
    try {
      const lost = new Set(await lifecycle.renewLeases(ids));
      for (const [taskId, run] of this.#running) {
        if (lost.has(run.attemptIds[0]!) && !run.controller.signal.aborted) {
          logger.warn(
            { taskId, attemptId: run.attemptIds[0] },
            'attempt recovered elsewhere; stopping its agent',
          );
          run.controller.abort(STOP_REASONS.lost);
        }
      }
      const recovered = await lifecycle.recoverLost();
      if (recovered) logger.warn({ recovered }, 'recovered tasks whose worker was lost');
    } catch (error) {
      logger.debug({ err: error }, 'could not renew leases or look for lost attempts; will try again');
    }
  }

  /**
   * Stops taking jobs, waits up to `graceMs` for running attempts, then stops the rest and records
   * them as interrupted so they are retried (without using up their attempts).
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping.abort();
    clearInterval(this.#cancelTimer);
    if (this.#started) await this.#deps.queue.stopFetching();
    const all = () => Promise.all([...this.#running.values()].map((run) => run.finished));
    const graceOver = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), graceMs).unref(),
    );
    if ((await Promise.race([all(), graceOver])) === 'timeout') {
      this.#deps.logger.warn(
        { tasks: this.runningTaskIds },
        'grace period over; handing running attempts back',
      );
      for (const run of this.#running.values()) run.controller.abort(STOP_REASONS.shutdown);
      await all();
    }
    // Leases are renewed while attempts run, until the last one has been handed back.
    clearInterval(this.#leaseTimer);
  }

  async #handle(job: DispatchJob): Promise<void> {
    const { taskId } = job.data;
    const begun = await this.#deps.lifecycle.begin(taskId, job.id);
    if (begun.kind === 'skip') {
      this.#deps.logger.debug({ taskId, jobId: job.id, reason: begun.reason }, 'dispatch skipped');
      if (begun.recheck) {
        await this.#deps.lifecycle.recheckWaiting(taskId).catch((error: unknown) => {
          this.#deps.logger.warn(
            { err: error, taskId },
            'could not re-check a task waiting for a slot; it is re-checked on its own',
          );
        });
      }
      if (begun.machineShort) {
        // The job went back for another worker. This slot fetches nothing for a while, so a
        // machine without room does not take and return the whole backlog over and over.
        this.#deps.logger.warn({ taskId, reason: begun.reason }, 'no room on this machine for another agent');
        await sleep(MACHINE_SHORT_PAUSE_MS, undefined, { signal: this.#stopping.signal }).catch(
          () => undefined,
        );
      }
      return;
    }
    const controller = new AbortController();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const run: RunningAttempt = {
      controller,
      finished,
      taskIds: [begun.task.id, ...begun.batch.map((member) => member.task.id)],
      attemptIds: [begun.attempt.id, ...begun.batch.map((member) => member.attempt.id)],
    };
    this.#running.set(taskId, run);
    // Not pg-boss's job.signal: pg-boss aborts it when a heartbeat was missed, which a database
    // outage causes for every running job. The attempt's lease says whether it is still this
    // worker's (#keepLeases).
    try {
      await this.#runAttempt(begun, controller.signal, run);
    } finally {
      this.#running.delete(taskId);
      finish();
    }
    // A run slot is free again: the most urgent task waiting for one may start now.
    await this.#deps.wakeParked(1, ['slot']).catch((error: unknown) => {
      this.#deps.logger.warn({ err: error }, 'could not wake parked tasks; they are re-checked on their own');
    });
  }

  async #runAttempt(
    begun: Extract<BeginResult, { kind: 'run' }>,
    signal: AbortSignal,
    running: RunningAttempt,
  ): Promise<void> {
    const { task, attempt, agent, batch } = begun;
    const targets: EventTarget[] = [begun, ...batch].map((member) => ({
      taskId: member.task.id,
      attemptId: member.attempt.id,
    }));
    const log = this.#deps.logger.child({
      taskId: task.id,
      attemptId: attempt.id,
      attempt: attempt.number,
      agentId: agent.id,
    });
    log.info(
      {
        type: task.type,
        driver: this.#deps.runner.driverName,
        session: begun.session,
        ...(batch.length ? { batchTaskIds: batch.map((member) => member.task.id) } : {}),
      },
      'attempt started',
    );
    if (batch.length) {
      // Each task's own stream says which session it rides in and which item it is.
      await this.#emit(targets, [
        {
          type: 'supervisor/batch',
          data: {
            lead_task_id: task.id,
            lead_attempt_id: attempt.id,
            session_id: begun.session.id,
            items: targets.map((target, i) => ({ item: i + 1, task_id: target.taskId })),
          },
        },
      ]);
    }
    const runStarted = performance.now();
    const usage = new UsageRecorder(
      (used) => this.#deps.lifecycle.recordUsage(attempt.id, used),
      (error) => log.warn({ err: error }, 'could not record the attempt’s use so far; the next figures will'),
    );
    let report: AgentRunReport;
    const handoff = await this.#handoff(begun, log);
    // Counted as the events pass, so finishing the attempt need not read them back.
    const tools: ToolSummary = { calls: {}, denied: {} };
    try {
      report = await this.#deps.runner.run({
        ...begun,
        batch: batch.map((member) => member.task),
        ...(handoff ? { handoff } : {}),
        signal,
        emit: (events) => {
          countTools(tools, events);
          return this.#emit(targets, events);
        },
        onSpawn: (pid) => {
          this.#deps.lifecycle.recordAgentProcess(attempt.id, pid).catch((error: unknown) => {
            log.warn({ err: error, pid }, 'could not record the agent process');
          });
        },
        onUsage: (used) => usage.record(used),
        ...(batch.length ? {} : { people: (run) => this.#people(begun, run, targets, running, log) }),
      });
    } catch (error) {
      log.error({ err: error }, 'attempt runner failed');
      report = {
        outcome: 'infra_error',
        evidence: { source: 'supervisor', signal: 'driver_error', detail: errorMessage(error) },
        error: `agent driver failed: ${errorMessage(error)}`,
        usage: ZERO_USAGE,
        costUsd: 0,
      };
    }
    await usage.settled();
    const reason = signal.aborted ? (signal.reason as StopReason) : undefined;
    const interrupted = reason === STOP_REASONS.shutdown;
    if (reason === STOP_REASONS.cancel) {
      report = {
        ...report,
        outcome: 'cancelled',
        evidence: { source: 'supervisor', signal: 'cancel', detail: reason },
      };
    } else if (interrupted) {
      report = {
        ...report,
        outcome: 'infra_error',
        evidence: { source: 'supervisor', signal: 'shutdown', detail: reason },
        error: 'attempt handed back: the supervisor shut down before it finished',
      };
    }
    const runMs = Math.round(performance.now() - runStarted);
    if (batch.length) {
      await this.#finishBatch(begun, { report, interrupted, tools }, runMs, log);
      return;
    }
    // The agent's work is done; a database outage now must not throw its result away.
    const finished = await whileUnavailable(
      () => this.#deps.lifecycle.finish(task, attempt, { report, interrupted, tools }),
      {
        maxWaitMs: FINISH_MAX_WAIT_MS,
        onWait: () => log.warn('database unavailable; will record the attempt when it is back'),
      },
    );
    const finishMs = Math.round(performance.now() - runStarted) - runMs;
    if (finished.accepted) {
      this.#metrics?.observeAttempt(task, attempt, report, runMs, finished.task);
      log.info(
        { outcome: report.outcome, status: finished.task?.status, costUsd: report.costUsd, runMs, finishMs },
        'attempt finished',
      );
    } else {
      log.warn({ outcome: report.outcome }, 'late result rejected: the attempt was already closed elsewhere');
    }
  }

  /** What the last attempt did, for a run that starts a new session of a task that ran before. */
  async #handoff(begun: Extract<BeginResult, { kind: 'run' }>, log: Logger) {
    if (begun.session.resumed || begun.attempt.number === 1 || begun.batch.length) return undefined;
    return this.#deps.lifecycle.handoff(begun.task, begun.attempt).catch((error: unknown) => {
      log.warn({ err: error }, 'could not read the earlier attempt for a handoff; starting without one');
      return undefined;
    });
  }

  /** Records a batched session's end for each of its tasks (see AttemptLifecycle.finishBatch). */
  async #finishBatch(
    begun: Extract<BeginResult, { kind: 'run' }>,
    end: AttemptEnd,
    runMs: number,
    log: Logger,
  ): Promise<void> {
    const { report } = end;
    const members = [begun, ...begun.batch];
    const finished = await whileUnavailable(() => this.#deps.lifecycle.finishBatch(begun, begun.batch, end), {
      maxWaitMs: FINISH_MAX_WAIT_MS,
      onWait: () => log.warn('database unavailable; will record the batch when it is back'),
    });
    for (const [i, end] of finished.entries()) {
      const { task, attempt } = members[i]!;
      if (end.accepted) this.#metrics?.observeAttempt(task, attempt, end.report, runMs, end.task);
      log.info(
        {
          batchTaskId: task.id,
          batchAttemptId: attempt.id,
          outcome: end.report.outcome,
          status: end.task?.status,
          costUsd: end.report.costUsd,
          accepted: end.accepted,
        },
        end.accepted ? 'batch item finished' : 'late batch item result rejected: closed elsewhere',
      );
    }
    log.info(
      { outcome: report.outcome, costUsd: report.costUsd, items: members.length, runMs },
      'batch finished',
    );
  }

  /** The channel through which people reach this attempt's agent (messages, approvals). */
  #people(
    begun: Extract<BeginResult, { kind: 'run' }>,
    run: { nonce: string; workspaceDir: string },
    targets: EventTarget[],
    running: RunningAttempt,
    logger: Logger,
  ): AttemptPeople {
    const { approvals } = this.#deps;
    const repository = (begun.task.payload as { repository?: unknown }).repository;
    const people = new AttemptPeople({
      db: this.#deps.db,
      task: begun.task,
      attempt: begun.attempt,
      rule: typeof repository === 'string' ? ruleFor(approvals.policy, repository) : undefined,
      defaultTimeoutMs: approvals.defaultTimeoutMs,
      pollMs: this.#deps.cancelPollIntervalMs,
      ...run,
      emit: (events) => this.#emit(targets, events),
      logger,
      now: this.#deps.now,
    });
    running.people = people;
    return people;
  }

  async #emit(targets: EventTarget[], events: AgentEvent[]): Promise<void> {
    const now = this.#deps.now();
    let stored: Awaited<ReturnType<typeof store.insertEvents>>;
    try {
      stored = await whileUnavailable(() => this.#insertEvents(targets, events, now), {
        maxWaitMs: EVENTS_MAX_WAIT_MS,
      });
    } catch (error) {
      // Losing some events is bad; failing an agent run that is going well for it would be worse.
      this.#deps.logger.error(
        { err: error, taskId: targets[0]?.taskId, attemptId: targets[0]?.attemptId, events: events.length },
        'agent events could not be stored',
      );
      return;
    }
    this.#deps.bus.publish(stored);
  }

  #insertEvents(targets: EventTarget[], events: AgentEvent[], now: Date) {
    return store.insertEvents(
      this.#deps.db,
      targets.flatMap(({ taskId, attemptId }) =>
        events.map((event) => ({
          taskId,
          attemptId,
          type: event.type,
          data: event.data ?? null,
          createdAt: now,
        })),
      ),
    );
  }

  async #pollCancellations(): Promise<void> {
    const ids = this.runningTaskIds;
    if (ids.length === 0) return;
    try {
      const listening = [...this.#running].filter(([, run]) => run.people).map(([id]) => id);
      for (const id of await tasksWithWaitingMessages(this.#deps.db, listening)) {
        this.#running.get(id)?.people?.messagesWaiting();
      }
      const requested = new Set(await store.cancelRequestedAmong(this.#deps.db, ids));
      for (const [id, run] of this.#running) {
        // A batch's session goes on while any of its tasks still wants a result; a task cancelled
        // in it ends cancelled when the session ends (batchReports).
        if (!run.controller.signal.aborted && run.taskIds.every((taskId) => requested.has(taskId))) {
          this.#deps.logger.info(
            { taskId: id, tasks: run.taskIds.length },
            'cancel requested; stopping the agent',
          );
          run.controller.abort(STOP_REASONS.cancel);
        }
      }
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'could not check for cancellations; will try again');
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
