import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { killAttemptProcesses } from '../agents/attempt-processes.ts';
import type { AgentIdentity, AgentRunReport, LiveUsage } from '../agents/driver.ts';
import { appendAudit } from '../audit/audit-log.ts';
import { summariseTools, type ToolSummary } from '../audit/tool-summary.ts';
import type { AgentVerdict } from '../core/admission.ts';
import type { AdmissionRecord } from '../core/agent-types.ts';
import { digestSteps, type Handoff, recentSteps } from '../core/handoff.ts';
import type { Evidence, Outcome } from '../core/outcome.ts';
import { FAILOVER_OUTCOMES, type NextStep, nextStep, type RetrySettings } from '../core/retry-policy.ts';
import { isTerminal, transition, transitionOrThrow } from '../core/task-status.ts';
import type { EventBus, TaskEventMessage } from '../events/bus.ts';
import { rememberTask } from '../memory/memory-store.ts';
import type { AgentPool } from '../pool/agent-pool.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import { withdrawApprovals } from '../store/approval-store.ts';
import type { Db, Tx } from '../store/database.ts';
import * as leases from '../store/lease-store.ts';
import { messageOfRun } from '../store/message-store.ts';
import type { AttemptRow, TaskMessageRow, TaskRow } from '../store/schema.ts';
import * as store from '../store/task-store.ts';
import { recordStatusChange } from '../tasks/status-change.ts';
import { type BatchMember, joinBatch } from './batch-join.ts';
import { batchReports } from './batch-reports.ts';

/** Most events of an earlier attempt read for a handoff digest (its latest). */
const HANDOFF_EVENTS = 500;

/**
 * The two transactions around an agent run. `begin` claims the task for one attempt; `finish`
 * records the outcome and moves the task on (done, failed, or queued again for a retry). Both
 * check that the job and the attempt are still the current ones, so a job delivered twice or a
 * late result from a worker presumed dead changes nothing.
 */
export interface AttemptLifecycleDeps {
  db: Db;
  queue: TaskQueue;
  bus: EventBus;
  retry: Omit<RetrySettings, 'maxAttempts'>;
  workerId: string;
  /** This machine's name: an orphaned agent can only be stopped where it runs. */
  host: string;
  /** The driver an attempt on this agent is recorded with. */
  driverFor(agent: AgentIdentity): string;
  pool: AgentPool;
  /** The agents this worker may run (WORKER_AGENTS); undefined means all. */
  onlyAgents?: ReadonlySet<string>;
  /** A task parked without a time to wait for is looked at again after this long. */
  parkRecheckMs: number;
  /** What this worker's machine lacks to start another agent (src/core/machine-room.ts), if anything. */
  machineShortfall?: () => string | undefined;
  /** How long an attempt's lease lasts without a renewal (WORKER_HEARTBEAT_SECONDS). */
  leaseMs: number;
  /** Most tasks one agent session runs as items of a batch (BATCH_SIZE); default 1, no batching. */
  batchSize?: number;
  /** Submitters whose batch tasks may share a session (BATCH_SHARED_SUBMITTERS); default none. */
  batchSharedSubmitters?: readonly string[];
  logger: Logger;
  now: () => Date;
  random: () => number;
}

/** A job handed back for another worker is offered again after this long. */
const HAND_BACK_DELAY_MS = 500;

export type BeginResult =
  | {
      kind: 'run';
      task: TaskRow;
      attempt: AttemptRow;
      agent: AgentIdentity;
      session: AdmissionRecord['session'];
      /** What earlier attempts spent, and how long since the task first started: for the task's budgets. */
      budget: { spentUsd: number; elapsedMs: number };
      /** Other tasks running as items of this attempt's agent session (batching); usually none. */
      batch: BatchMember[];
      /** The person's message this run answers (a follow-up), if one started it. */
      message?: TaskMessageRow;
    }
  /**
   * `recheck`: waiting for a free slot; call `recheckWaiting` once the wait is committed.
   * `machineShort`: this worker's machine has no room for another agent; the job went back.
   */
  | { kind: 'skip'; reason: string; recheck?: boolean; machineShort?: boolean };

export interface AttemptEnd {
  report: AgentRunReport;
  /** The supervisor stopped the attempt for its own reasons (shutdown); the task is not at fault. */
  interrupted: boolean;
  /** What the agent did with tools, counted as its events streamed (else read back from them). */
  tools?: ToolSummary;
}

interface AttemptSummary {
  outcome: Outcome;
  interrupted: boolean;
  error: string | null;
  question?: string;
  evidence?: Evidence;
  retryAfterMs?: number;
  retryable?: boolean;
  resultText?: string | null;
  result?: unknown;
  commit?: string;
}

export class AttemptLifecycle {
  readonly #deps: AttemptLifecycleDeps;

  constructor(deps: AttemptLifecycleDeps) {
    this.#deps = deps;
  }

  async begin(taskId: string, jobId: string): Promise<BeginResult> {
    const { result, events } = await this.#inTransaction(async (tx, events) => {
      const task = await store.getTask(tx, taskId, { lock: true });
      if (!task) return { kind: 'skip', reason: 'task no longer exists' } as const;
      if (task.dispatchJobId !== jobId)
        return { kind: 'skip', reason: 'job superseded by a newer dispatch' } as const;
      if (isTerminal(task.status)) return { kind: 'skip', reason: `task is already ${task.status}` } as const;

      // Delivered again while an attempt runs: that attempt's worker holds it until its lease is
      // lost, and then recoverLost moves the task on with a job of its own.
      if (task.status === 'running') {
        return { kind: 'skip', reason: 'an attempt of this task is running; its worker holds it' } as const;
      }
      const current = task;
      const now = this.#deps.now();
      if (current.cancelRequestedAt) {
        const cancelled = await store.updateTask(tx, taskId, {
          status: transitionOrThrow(current.status, 'cancel'),
          outcome: 'cancelled',
          finishedAt: now,
          updatedAt: now,
        });
        events.push(...(await this.#recordStatus(tx, cancelled, now)));
        return { kind: 'skip', reason: 'cancelled before it started' } as const;
      }
      const started = transition(current.status, 'start');
      if (!started.ok) return { kind: 'skip', reason: started.reason } as const;

      const attempts = await store.listAttempts(tx, taskId);
      const spentUsd = attempts.reduce((sum, a) => sum + a.costUsd, 0);
      const overBudget = taskBudgetExceeded(current, spentUsd, now);
      if (overBudget) {
        const failed = await failTask(tx, current, {
          outcome: overBudget.outcome,
          error: overBudget.error,
          finishedAt: now,
          updatedAt: now,
        });
        events.push(...(await this.#recordStatus(tx, failed, now)));
        return { kind: 'skip', reason: overBudget.error } as const;
      }

      const admission = await this.#deps.pool.admit(tx, current, now, this.#deps.onlyAgents);
      // An agent could take it, but this worker's machine has no room for one more: the job goes
      // straight back for another worker, and this one pauses (see Worker). Nothing is reserved.
      const shortfall =
        'decision' in admission && admission.decision.kind === 'admit'
          ? this.#deps.machineShortfall?.()
          : undefined;
      if (shortfall) {
        const jobId = await this.#deps.queue.dispatch(tx, taskId, { priority: current.priority });
        const status =
          current.status === 'parked' ? transitionOrThrow(current.status, 'wake') : current.status;
        const updated = await store.updateTask(tx, taskId, {
          status,
          dispatchJobId: jobId,
          parkedUntil: null,
          parkReason: 'slot',
          parkDetail: shortfall,
          updatedAt: now,
        });
        if (status !== current.status) events.push(...(await this.#recordStatus(tx, updated, now)));
        return { kind: 'skip', reason: shortfall, machineShort: true } as const;
      }
      if ('handBack' in admission) {
        // Only an agent this worker may not run fits now: the job goes back for a worker that may.
        const jobId = await this.#deps.queue.dispatch(tx, taskId, {
          priority: current.priority,
          startAfter: new Date(now.getTime() + HAND_BACK_DELAY_MS),
        });
        await store.updateTask(tx, taskId, { dispatchJobId: jobId, updatedAt: now });
        return {
          kind: 'skip',
          reason: 'handed back: only agents outside this worker’s WORKER_AGENTS fit',
        } as const;
      }
      const decision = admission.decision;
      if (decision.kind !== 'admit') {
        // Waiting for a slot keeps the task queued; anything else parks it. Either way its job is
        // looked at again at the time an agent is expected to be free (or after the recheck
        // interval), and earlier when capacity frees up or an operator changes an agent.
        const waiting = decision.kind === 'wait';
        const until = decision.kind === 'park' ? decision.until : undefined;
        const jobId = await this.#deps.queue.dispatch(tx, taskId, {
          priority: current.priority,
          startAfter: until ?? new Date(now.getTime() + this.#deps.parkRecheckMs),
        });
        // The status changes only where the kind of wait does: a parked task that now only waits
        // for a slot wakes (queued); a queued or retrying one that must now park parks.
        const wasParked = current.status === 'parked';
        const event = waiting ? (wasParked ? 'wake' : undefined) : wasParked ? undefined : 'park';
        const status = event ? transitionOrThrow(current.status, event) : current.status;
        const updated = await store.updateTask(tx, taskId, {
          status,
          dispatchJobId: jobId,
          parkedUntil: until ?? null,
          parkReason: waiting ? 'slot' : decision.because,
          parkDetail: `${decision.reason}${describeVerdicts(decision.verdicts)}`,
          updatedAt: now,
        });
        if (status !== current.status) events.push(...(await this.#recordStatus(tx, updated, now)));
        return waiting
          ? ({
              kind: 'skip',
              reason: `waiting for a run slot: ${decision.reason}`,
              recheck: true,
            } as const)
          : ({ kind: 'skip', reason: `parked (${decision.because}): ${decision.reason}` } as const);
      }

      const record = admission.record!;
      const attempt = await store.insertAttempt(tx, {
        id: randomUUID(),
        taskId,
        number: attempts.length + 1,
        agentId: decision.agentId,
        driver: this.#deps.driverFor(admission.agent!),
        workerId: this.#deps.workerId,
        host: this.#deps.host,
        jobId,
        admission: record,
        sessionId: record.session.id,
        model: decision.model,
        startedAt: now,
        leaseExpiresAt: new Date(now.getTime() + this.#deps.leaseMs),
      });
      const running = await store.updateTask(tx, taskId, {
        status: started.to,
        startedAt: current.startedAt ?? now,
        parkedUntil: null,
        parkReason: null,
        parkDetail: null,
        updatedAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'attempt.started',
        taskId,
        agentId: decision.agentId,
        details: {
          attempt: attempt.number,
          driver: attempt.driver,
          worker: attempt.workerId,
          reason: decision.reason,
        },
      });
      events.push(...(await this.#recordStatus(tx, running, now)));
      const message = await messageOfRun(tx, taskId, current.retryBaseAttempt);
      // A follow-up continues one task's session: it shares it with no other task.
      const batch = message
        ? { members: [], events: [] }
        : await joinBatch(
            tx,
            { task: running, attempt, statusBefore: current.status },
            {
              leaseExpiresAt: attempt.leaseExpiresAt!,
              size: this.#deps.batchSize ?? 1,
              sharedSubmitters: this.#deps.batchSharedSubmitters ?? [],
              admit: (companion, agentId, session) =>
                this.#deps.pool.admitCompanion(tx, companion, agentId, session, now),
            },
            now,
          );
      events.push(...batch.events);
      const budget = {
        spentUsd,
        elapsedMs: now.getTime() - (current.startedAt ?? now).getTime(),
      };
      return {
        kind: 'run',
        task: running,
        attempt,
        agent: admission.agent!,
        session: record.session,
        budget,
        batch: batch.members,
        ...(message ? { message } : {}),
      } as const;
    });
    this.#deps.bus.publish(events);
    return result;
  }

  /**
   * What the task's last attempt did, for an attempt that cannot resume its session (another CLI,
   * or its transcript is not on this host); undefined when there is nothing to hand over.
   */
  async handoff(task: TaskRow, attempt: AttemptRow): Promise<Omit<Handoff, 'carriedOver'> | undefined> {
    // A batched attempt's stream holds the other tasks' work too: it is not this task's to hand on.
    const earlier = (await store.listAttempts(this.#deps.db, task.id)).filter(
      (other) => other.number < attempt.number && other.agentId !== null && other.batchLeadAttemptId === null,
    );
    const batched = await store.batchLeads(
      this.#deps.db,
      earlier.map((other) => other.id),
    );
    // The latest that did something (one that failed before its agent started says nothing).
    for (const last of earlier.filter((other) => !batched.has(other.id)).reverse()) {
      const steps = digestSteps(await store.stepEventsOf(this.#deps.db, task.id, last.id, HANDOFF_EVENTS));
      if (steps.length === 0) continue;
      return {
        attempt: last.number,
        agent: last.agentId!,
        cli: last.driver,
        outcome: last.outcome,
        ...recentSteps(steps),
      };
    }
    return undefined;
  }

  /** Charges what a running attempt has used so far to its row (and so to its agent's windows). */
  async recordUsage(attemptId: string, used: LiveUsage): Promise<void> {
    await store.recordAttemptUsage(this.#deps.db, attemptId, used);
  }

  /** Notes the agent's process on the attempt, so a successor can stop it if this worker dies. */
  async recordAgentProcess(attemptId: string, pid: number): Promise<void> {
    await store.updateAttempt(this.#deps.db, attemptId, { agentPid: pid });
  }

  /** Records how the attempt ended and decides what happens to the task next. */
  async finish(
    task: TaskRow,
    attempt: AttemptRow,
    end: AttemptEnd,
  ): Promise<{ accepted: boolean; task?: TaskRow }> {
    const { result, events } = await this.#inTransaction(async (tx, events) => {
      const current = await store.getTask(tx, task.id, { lock: true });
      const stored = await store.getAttempt(tx, attempt.id);
      // Fencing: someone else closed this attempt (the task was recovered elsewhere); drop the result.
      if (!current || !stored || stored.endedAt || current.dispatchJobId !== attempt.jobId) {
        return { accepted: false } as const;
      }
      const now = this.#deps.now();
      await this.#closeAttempt(tx, current, stored, end, now);
      await this.#applyToAgent(tx, stored, end, now);
      const next = await this.#moveOn(tx, current, end, now, events);
      return { accepted: true, task: next } as const;
    });
    this.#deps.bus.publish(events);
    return result;
  }

  /**
   * Records how a batched agent session ended for each of its tasks (the lead first), in one
   * transaction: each task gets its own item of the result, outcome and share of the spend (see
   * batchReports); the agent's quota and health see the session once, as it really ran.
   */
  async finishBatch(
    lead: BatchMember,
    members: BatchMember[],
    end: AttemptEnd,
  ): Promise<Array<{ accepted: boolean; task?: TaskRow; report: AgentRunReport }>> {
    const { result, events } = await this.#inTransaction(async (tx, events) => {
      const now = this.#deps.now();
      const all = [lead, ...members];
      // Locks the lead, then the others by id, so two batches' finishes never deadlock.
      const locked = new Map<string, TaskRow | undefined>();
      locked.set(lead.task.id, await store.getTask(tx, lead.task.id, { lock: true }));
      for (const member of [...members].sort((a, b) => a.task.id.localeCompare(b.task.id))) {
        locked.set(member.task.id, await store.getTask(tx, member.task.id, { lock: true }));
      }
      const current = all.map((member) => locked.get(member.task.id));
      const stored: Array<AttemptRow | undefined> = [];
      for (const member of all) stored.push(await store.getAttempt(tx, member.attempt.id));
      // Fencing, per task, as in finish.
      const accepted = all.map(
        (member, i) =>
          !!current[i] &&
          !!stored[i] &&
          !stored[i]!.endedAt &&
          current[i]!.dispatchJobId === member.attempt.jobId,
      );
      const reports = batchReports(
        end.report,
        current.map((task) => !!task?.cancelRequestedAt),
        end.interrupted,
      );
      const ends = reports.map((report) => ({ ...end, report }));
      const taken = [...all.keys()].filter((i) => accepted[i]);
      // In the order finish() keeps: attempts closed, then the agent, then the tasks moved on.
      for (const i of taken) await this.#closeAttempt(tx, current[i]!, stored[i]!, ends[i]!, now);
      // The agent spent the session's totals once: its quota and health see it once, not per item.
      if (taken.length) await this.#applyToAgent(tx, stored[taken[0]!]!, end, now);
      const moved = new Map<number, TaskRow>();
      for (const i of taken) moved.set(i, await this.#moveOn(tx, current[i]!, ends[i]!, now, events));
      return all.map((_, i) => ({ accepted: accepted[i]!, task: moved.get(i), report: reports[i]! }));
    });
    this.#deps.bus.publish(events);
    return result;
  }

  /** Closes one attempt with what `end.report` says, and records that in the audit trail. */
  async #closeAttempt(
    tx: Tx,
    current: TaskRow,
    stored: AttemptRow,
    end: AttemptEnd,
    now: Date,
  ): Promise<void> {
    const { report, interrupted } = end;
    await store.updateAttempt(tx, stored.id, {
      endedAt: now,
      outcome: report.outcome,
      evidence: report.evidence,
      countsAgainstBudget: !interrupted && !FAILOVER_OUTCOMES.has(report.outcome),
      error: report.error ?? null,
      question: report.question ?? null,
      sessionId: report.sessionId ?? stored.sessionId,
      model: report.model ?? stored.model,
      apiRequests: report.apiRequests ?? 0,
      inputTokens: report.usage.inputTokens,
      outputTokens: report.usage.outputTokens,
      cacheReadTokens: report.usage.cacheReadTokens,
      cacheWriteTokens: report.usage.cacheWriteTokens,
      costUsd: report.costUsd,
    });
    await this.#withdrawApprovals(tx, stored.id, now);
    await appendAudit(tx, {
      at: now,
      actor: 'supervisor',
      action: 'attempt.finished',
      taskId: current.id,
      agentId: stored.agentId,
      details: {
        attempt: stored.number,
        outcome: report.outcome,
        costUsd: report.costUsd,
        tokens: report.usage,
        interrupted,
        ...(stored.batchLeadAttemptId ? { batchLeadAttemptId: stored.batchLeadAttemptId } : {}),
        tools: end.tools ?? summariseTools(await store.toolEventsOf(tx, current.id, stored.id)),
      },
    });
  }

  /**
   * Withdraws the tool calls the attempt's agent still waited on. Its worker does that as the agent
   * stops; this covers a worker that could not (the database was away, or the worker is gone).
   */
  async #withdrawApprovals(tx: Tx, attemptId: string, now: Date): Promise<void> {
    for (const approval of await withdrawApprovals(tx, attemptId, now)) {
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'approval.withdrawn',
        taskId: approval.taskId,
        details: { approval: approval.id, tool: approval.tool },
      });
    }
  }

  /** Moves the task on after an attempt ended as `end` says; returns the task as it now is. */
  async #moveOn(
    tx: Tx,
    current: TaskRow,
    end: AttemptEnd,
    now: Date,
    events: TaskEventMessage[],
  ): Promise<TaskRow> {
    const { report, interrupted } = end;
    const summary: AttemptSummary = {
      outcome: report.outcome,
      interrupted,
      error: report.error ?? null,
      ...(report.question ? { question: report.question } : {}),
      evidence: report.evidence,
      retryAfterMs: report.retryAfterMs,
      retryable: report.retryable,
      resultText: report.resultText ?? null,
      result: report.result ?? null,
      ...(report.commit ? { commit: report.commit } : {}),
    };
    const next = await this.#apply(tx, current, await this.#decide(tx, current, summary), summary);
    events.push(...(await this.#recordStatus(tx, next, now)));
    return next;
  }

  /** What an agent session's end says about its agent: quota use and, unless interrupted, its health. */
  async #applyToAgent(tx: Tx, stored: AttemptRow, end: AttemptEnd, now: Date): Promise<void> {
    const { report, interrupted } = end;
    if (!stored.agentId) return;
    await this.#deps.pool.recordQuotaCrossings(
      tx,
      stored.agentId,
      {
        requests: report.apiRequests ?? 0,
        tokens:
          report.usage.inputTokens +
          report.usage.outputTokens +
          report.usage.cacheReadTokens +
          report.usage.cacheWriteTokens,
        usd: report.costUsd,
      },
      now,
    );
    if (interrupted) return;
    await this.#deps.pool.applyOutcome(
      tx,
      stored.agentId,
      {
        outcome: report.outcome,
        ...((report.model ?? stored.model) ? { model: (report.model ?? stored.model)! } : {}),
        ...(report.retryAfterMs ? { retryAfterMs: report.retryAfterMs } : {}),
        ...(report.resetsAt ? { resetsAt: report.resetsAt } : {}),
        ...(report.rateLimitType ? { rateLimitType: report.rateLimitType } : {}),
        ...(report.error ? { error: report.error } : {}),
        ...(report.quotaWarningUntil ? { quotaWarningUntil: report.quotaWarningUntil } : {}),
      },
      now,
    );
  }

  /** Renews the leases of attempts this worker runs; returns those it could not (closed elsewhere). */
  async renewLeases(attemptIds: string[]): Promise<string[]> {
    const until = new Date(this.#deps.now().getTime() + this.#deps.leaseMs);
    const renewed = new Set(await leases.renewLeases(this.#deps.db, attemptIds, until));
    return attemptIds.filter((id) => !renewed.has(id));
  }

  /**
   * Recovers running tasks whose attempts are lost (see src/store/lease-store.ts): each lost
   * attempt is closed as `infra_error` (`worker_lost`) without using up an attempt, its processes on
   * this host are stopped, and the task moves on with a job of its own. `everyOpenAttempt`: at the
   * start of the embedded database's one owner, which knows the previous one is gone.
   */
  async recoverLost(options: { everyOpenAttempt?: boolean } = {}): Promise<number> {
    const { db, leaseMs } = this.#deps;
    const now = this.#deps.now();
    if (!options.everyOpenAttempt) await leases.markExpiredLeases(db, now, leaseMs);
    let recovered = 0;
    for (const taskId of await leases.tasksToRecover(db, now, leaseMs, options)) {
      const { result: jobs, events } = await this.#inTransaction(async (tx, events) => {
        const task = await store.getTask(tx, taskId, { lock: true });
        const open = await store.openAttempts(tx, taskId, { lock: true });
        // Confirmed under the locks: a lease renewed meanwhile keeps its attempt.
        const still = await leases.tasksToRecover(tx, now, leaseMs, { ...options, taskId });
        if (task?.status !== 'running' || still.length === 0) return [];
        await this.#closeLostAttempts(tx, task, open, events);
        return open.map((attempt) => attempt.jobId).filter((id): id is string => id !== null);
      });
      this.#deps.bus.publish(events);
      // The lost worker's job would otherwise stay active until pg-boss expires it.
      for (const jobId of new Set(jobs)) await this.#deps.queue.withdraw(jobId);
      if (jobs.length) recovered += 1;
    }
    return recovered;
  }

  /** Closes attempts left open by a worker that is gone, and decides whether the task goes on. */
  async #closeLostAttempts(
    tx: Tx,
    task: TaskRow,
    open: AttemptRow[],
    events: TaskEventMessage[],
  ): Promise<void> {
    const now = this.#deps.now();
    const evidence: Evidence & { detail: string } = {
      source: 'supervisor',
      signal: 'worker_lost',
      detail:
        'the worker running this attempt stopped (crash, kill, or its lease was lost) before recording an outcome',
    };
    for (const attempt of open) {
      // The agent and its tools outlive a killed worker; stopped here, on their host.
      const stopped = attempt.host === this.#deps.host ? killAttemptProcesses(attempt.id) : 0;
      if (stopped > 0) {
        evidence.detail = `${evidence.detail}; ${stopped} orphaned process(es) of the attempt were stopped (the agent was pid ${attempt.agentPid})`;
      }
      await store.updateAttempt(tx, attempt.id, {
        endedAt: now,
        outcome: 'infra_error',
        evidence,
        countsAgainstBudget: false,
        error: 'attempt interrupted: its worker stopped before it finished',
      });
      await this.#withdrawApprovals(tx, attempt.id, now);
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'attempt.recovered',
        taskId: task.id,
        details: { attempt: attempt.number, worker: attempt.workerId },
      });
    }
    const end = { outcome: 'infra_error' as const, interrupted: true, error: null };
    const moved = await this.#apply(tx, task, await this.#decide(tx, task, end), end);
    events.push(...(await this.#recordStatus(tx, moved, now)));
  }

  /** The retry policy's verdict on the task after an attempt ended as `end` says. */
  async #decide(tx: Tx, task: TaskRow, end: AttemptSummary): Promise<NextStep> {
    const attempts = (await store.listAttempts(tx, task.id)).filter((a) => a.number > task.retryBaseAttempt);
    return nextStep(
      {
        outcome: end.outcome,
        interrupted: end.interrupted,
        budgetedAttempts: attempts.filter((a) => a.countsAgainstBudget).length,
        totalAttempts: attempts.length,
        retryAfterMs: end.retryAfterMs,
        retryable: end.retryable,
      },
      { ...this.#deps.retry, maxAttempts: task.maxAttempts },
      this.#deps.random,
    );
  }

  /** Moves the task to where `step` says, dispatching a new job for a retry. */
  async #apply(tx: Tx, task: TaskRow, step: NextStep, end: AttemptSummary): Promise<TaskRow> {
    const now = this.#deps.now();
    const common = { outcome: end.outcome, question: end.question ?? null, updatedAt: now };
    switch (step.kind) {
      case 'succeed': {
        const done = await store.updateTask(tx, task.id, {
          ...common,
          status: transitionOrThrow(task.status, 'succeed'),
          resultText: end.resultText ?? null,
          result: end.result ?? null,
          error: null,
          finishedAt: now,
        });
        // In a savepoint: memory helps later tasks; failing to save it must not undo this success.
        await tx
          .transaction((savepoint) => rememberTask(savepoint, done, end.commit, now))
          .catch((error: unknown) =>
            this.#deps.logger.error(
              { err: error, taskId: task.id },
              'could not save the task to project memory',
            ),
          );
        return done;
      }
      case 'cancel':
        return store.updateTask(tx, task.id, {
          ...common,
          status: transitionOrThrow(task.status, 'cancel'),
          error: end.error,
          finishedAt: now,
        });
      case 'fail':
        return failTask(
          tx,
          task,
          {
            ...common,
            error: end.error ? `${step.reason}: ${end.error}` : step.reason,
            resultText: end.resultText ?? null,
            result: end.result ?? null,
            finishedAt: now,
          },
          end.evidence,
        );
      case 'retry': {
        const startAfter = new Date(now.getTime() + step.delayMs);
        const jobId = await this.#deps.queue.dispatch(tx, task.id, { priority: task.priority, startAfter });
        return store.updateTask(tx, task.id, {
          ...common,
          status: transitionOrThrow(task.status, 'schedule_retry'),
          error: end.error,
          runAfter: startAfter,
          dispatchJobId: jobId,
        });
      }
    }
  }

  /**
   * Closes the gap between waiting for a slot and a wake-up: an attempt that ended while this task
   * was being set to wait woke whatever waited before this wait was visible. Checked after the
   * wait commits, a freed slot is seen either here or by the ending attempt's wake-up, with no lock
   * shared between ending attempts and admissions.
   */
  async recheckWaiting(taskId: string): Promise<void> {
    await this.#deps.db.transaction(async (tx) => {
      const now = this.#deps.now();
      const task = await store.getTask(tx, taskId, { lock: true });
      if (task?.parkReason !== 'slot' || task.status === 'running' || isTerminal(task.status)) return;
      if (!(await this.#deps.pool.couldAdmitNow(tx, task, now))) return;
      // The status stays what it is (queued or retrying): only the job moves up to now.
      const jobId = await this.#deps.queue.dispatch(tx, taskId, { priority: task.priority });
      await store.updateTask(tx, taskId, {
        dispatchJobId: jobId,
        parkReason: null,
        parkDetail: null,
        updatedAt: now,
      });
    });
  }

  /** Every status change here goes through this (see recordStatusChange), so no ending is missed. */
  async #recordStatus(tx: Tx, task: TaskRow, now: Date): Promise<TaskEventMessage[]> {
    return recordStatusChange(tx, task, this.#deps.queue, now);
  }

  async #inTransaction<T>(
    work: (tx: Tx, events: TaskEventMessage[]) => Promise<T>,
  ): Promise<{ result: T; events: TaskEventMessage[] }> {
    return this.#deps.db.transaction(async (tx) => {
      const events: TaskEventMessage[] = [];
      const result = await work(tx, events);
      return { result, events };
    });
  }
}

/** The status `event` leads to; the callers only ask for changes the state machine allows. */
/** A task that has already used its own spend or time limit does not get another attempt. */
function taskBudgetExceeded(
  task: TaskRow,
  spentUsd: number,
  now: Date,
): { outcome: Outcome; error: string } | undefined {
  if (task.maxCostUsd !== null && spentUsd >= task.maxCostUsd) {
    return {
      outcome: 'budget_exceeded',
      error: `task budget spent: $${spentUsd.toFixed(4)} of $${task.maxCostUsd}`,
    };
  }
  if (
    task.maxDurationSeconds !== null &&
    task.startedAt &&
    now.getTime() - task.startedAt.getTime() >= task.maxDurationSeconds * 1000
  ) {
    return { outcome: 'timed_out', error: `task ran past its ${task.maxDurationSeconds} s limit` };
  }
  return undefined;
}

/** The agents that said no, and why, in one line each (kept on a parked or refused task). */
function describeVerdicts(verdicts: AgentVerdict[]): string {
  const refused = verdicts.filter((verdict) => !verdict.eligible);
  return refused.length
    ? ` [${refused.map((verdict) => `${verdict.agentId}: ${verdict.blockers.join('; ')}`).join(' | ')}]`
    : '';
}

/**
 * Ends a task as failed and records it in the audit trail, which is where alerts come from
 * (src/notify): every path to `failed` goes through here so none is missed.
 */
async function failTask(
  tx: Tx,
  task: TaskRow,
  patch: Omit<Partial<TaskRow>, 'status'> & { updatedAt: Date },
  evidence?: Evidence,
): Promise<TaskRow> {
  const taskId = task.id;
  const failed = await store.updateTask(tx, taskId, {
    ...patch,
    status: transitionOrThrow(task.status, 'fail'),
  });
  await appendAudit(tx, {
    at: patch.updatedAt,
    actor: 'supervisor',
    action: 'task.failed',
    taskId,
    details: {
      type: failed.type,
      repository: failed.repository,
      outcome: failed.outcome,
      error: failed.error,
      ...(failed.question ? { question: failed.question } : {}),
      ...(evidence ? { evidence } : {}),
    },
  });
  return failed;
}
