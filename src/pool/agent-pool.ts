import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { AgentDefinition } from '../agents/agent-definition.ts';
import type { Credential } from '../agents/claude-code/command.ts';
import { transcriptExists } from '../agents/claude-code/session-files.ts';
import { codexThreadExists } from '../agents/codex/session-files.ts';
import type { AgentIdentity } from '../agents/driver.ts';
import { geminiChat } from '../agents/gemini/session-files.ts';
import { fingerprint, type SecretBox } from '../agents/secrets.ts';
import { appendAudit } from '../audit/audit-log.ts';
import { type AdmissionDecision, type AgentSnapshot, admit, type WindowState } from '../core/admission.ts';
import { type AgentSignal, type AttemptSignalFacts, agentSignal } from '../core/agent-signals.ts';
import type { AdmissionRecord, AgentCli, AgentLimits } from '../core/agent-types.ts';
import { estimateUsage } from '../core/cost-estimate.ts';
import {
  type QuotaWindow,
  type Usage,
  windowResetsAt,
  windowStart,
  windowsBelowEstimate,
} from '../core/quota.ts';
import { type Db, type Queryable, queryRows, type Tx } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import * as poolStore from './pool-store.ts';

/**
 * The agent pool: agents and their credentials (stored encrypted), the state of each (paused,
 * disabled, cooling down, warned), usage against its quota windows, and the admission decision
 * for a task. The policy itself is the pure `admit()`; this class gathers its inputs from the
 * database, which every worker shares, so decisions hold across processes.
 */

/**
 * Admissions to one agent are serialised (two workers must not both take its last slot or last
 * quota); admissions to different agents are not. The lock is PostgreSQL's two-key advisory lock:
 * this class, and the agent id (or repository) hashed into the second key.
 */
const AGENT_LOCK_CLASS = 702_042;
/** Admissions for one repository with a daily budget are serialised the same way. */
const REPOSITORY_LOCK_CLASS = 702_043;
/** How many agents one admission tries before it waits for a slot like any other. */
const ADMISSION_ROUNDS = 3;
const REMOVED_FROM_CONFIGURATION = 'removed from the configuration';
/** Share of a quota window past which an alert goes out. */
const HIGH_QUOTA_SHARE = 0.8;
/** Estimates change slowly; they are looked up again after this long. */
const ESTIMATE_TTL_MS = 60_000;
/** Each "tasks are parking" alert is recorded at most this often per process. */
const EXHAUSTED_ALERT_INTERVAL_MS = 5 * 60_000;

export interface AgentPoolDeps {
  db: Db;
  secrets: SecretBox;
  /** Where each task's agent state (and so its session transcript) lives. */
  sessionsDir: string;
  defaultEstimateUsd: number;
  repoDailyBudgetUsd?: number;
  /**
   * The CLI a task must run on, if one: a task under an approval rule needs a CLI that can ask a
   * person about a tool call mid-run, which only Claude Code can.
   */
  cliFor?: (task: TaskRow) => AgentCli | undefined;
  logger: Logger;
}

export interface Admission {
  decision: AdmissionDecision;
  /** Set when an agent was chosen: who runs the attempt and which session it continues. */
  agent?: AgentIdentity;
  record?: AdmissionRecord;
}

export interface AgentStatus {
  id: string;
  cli: string;
  credentialClass: string;
  credentialFingerprint: string;
  owner: string | null;
  models: string[];
  state: string;
  stateReason: string | null;
  running: number;
  maxConcurrent: number;
  windows: Array<WindowState & { remaining: number; hours: number; mode: string }>;
  cooldowns: Array<{ model: string; until: Date; reason: string }>;
  warningUntil: Date | null;
  quotaResetAt: Date | null;
}

const DAY_MS = 24 * 3600_000;

export class AgentPool {
  readonly #deps: AgentPoolDeps;
  readonly #estimates = new Map<string, { at: number; value: ReturnType<typeof estimateUsage> }>();
  readonly #lastParkAlert = new Map<string, number>();

  constructor(deps: AgentPoolDeps) {
    this.#deps = deps;
  }

  /**
   * Writes the configured agents to the database (credentials sealed). State, cooldowns and quota
   * resets survive; an agent no longer configured is disabled, not deleted, so its history stays.
   */
  async sync(definitions: AgentDefinition[], now: Date): Promise<void> {
    const configured = new Set(definitions.map((definition) => definition.id));
    await this.#deps.db.transaction(async (tx) => {
      const before = new Map((await poolStore.listAgentRows(tx)).map((row) => [row.id, row]));
      for (const definition of definitions) {
        const plain = JSON.stringify(definition.credential);
        const previous = before.get(definition.id);
        const change = !previous
          ? { action: 'agent.added', details: {} }
          : previous.credentialFingerprint !== fingerprint(plain)
            ? { action: 'agent.credential_changed', details: { from: previous.credentialFingerprint } }
            : JSON.stringify(previous.definition) !== JSON.stringify(definition.limits) ||
                previous.owner !== (definition.owner ?? null)
              ? { action: 'agent.config_changed', details: {} }
              : undefined;
        if (change) {
          // Configuration and credential changes are audited by fingerprint: never the credential.
          await appendAudit(tx, {
            at: now,
            actor: 'configuration',
            action: change.action,
            agentId: definition.id,
            details: {
              ...change.details,
              fingerprint: fingerprint(plain),
              class: definition.credential.kind,
              models: definition.limits.models,
            },
          });
        }
        const reenable =
          previous?.state === 'disabled' &&
          (change?.action === 'agent.credential_changed' ||
            previous.stateReason === REMOVED_FROM_CONFIGURATION);
        await poolStore.upsertAgent(tx, {
          id: definition.id,
          cli: definition.cli,
          credentialClass: definition.credential.kind,
          credentialSecret: this.#deps.secrets.seal(plain),
          credentialFingerprint: fingerprint(plain),
          owner: definition.owner ?? null,
          definition: definition.limits,
          state: 'active',
          createdAt: now,
          updatedAt: now,
        });
        if (reenable) {
          // Disabled for its old credential, or for being gone: the configuration now says otherwise.
          await poolStore.updateAgent(tx, definition.id, {
            state: 'active',
            stateReason: null,
            updatedAt: now,
          });
          await appendAudit(tx, {
            at: now,
            actor: 'configuration',
            action: 'agent.resumed',
            agentId: definition.id,
            details: { reason: `re-enabled: ${previous.stateReason ?? 'disabled'} no longer applies` },
          });
        }
        for (const window of windowsBelowEstimate(
          windowsOfLimits(definition.limits),
          this.#fallbackEstimate(),
        )) {
          this.#deps.logger.warn(
            { agentId: definition.id, window: window.name, limit: window.limit, metric: window.metric },
            `agent ${definition.id}: window "${window.name}" allows ${window.limit} ${window.metric}, less than one task's default estimate; it runs at most one task per period (raise the limit, or lower TASK_COST_ESTIMATE_USD for dollar windows)`,
          );
        }
      }
      for (const row of await poolStore.listAgentRows(tx)) {
        if (!configured.has(row.id) && row.stateReason !== REMOVED_FROM_CONFIGURATION) {
          await poolStore.updateAgent(tx, row.id, {
            state: 'disabled',
            stateReason: REMOVED_FROM_CONFIGURATION,
            updatedAt: now,
          });
        }
      }
    });
  }

  /**
   * Takes the admission lock of one agent or repository until the transaction ends. `wait` only
   * in a fixed order (the repository's, then the first agent chosen), so no transaction waits for
   * a lock while holding one a waiter could hold (no deadlock); later ones are only tried, and
   * `false` means someone else holds it.
   */
  async #lock(tx: Tx, lockClass: number, key: string, wait: boolean): Promise<boolean> {
    if (wait) {
      await tx.execute(sql`select pg_advisory_xact_lock(${lockClass}, hashtext(${key}))`);
      return true;
    }
    const [row] = await queryRows<{ locked: boolean }>(
      tx,
      sql`select pg_try_advisory_xact_lock(${lockClass}, hashtext(${key})) as locked`,
    );
    return row?.locked === true;
  }

  /**
   * Whether some agent could take the task now, judged on the whole pool, without taking
   * anything: the check a task parked for busy slots makes after its park is visible.
   */
  async couldAdmitNow(tx: Tx, task: TaskRow, now: Date): Promise<boolean> {
    const estimated = await this.#estimate(tx, task);
    if (await this.#repositoryBudget(tx, task, estimated.usage, now)) return false;
    const previous = await poolStore.lastSession(tx, task.id);
    const snapshots = await this.snapshots(tx, now);
    const demand = {
      ...this.#cliOf(task),
      submittedBy: task.submittedBy,
      estimate: estimated.usage,
      ...(previous?.agentId ? { previousAgentId: previous.agentId } : {}),
    };
    return (
      admit(
        demand,
        snapshots.map((s) => s.snapshot),
        now,
      ).kind === 'admit'
    );
  }

  /**
   * Chooses the agent for a task's next attempt (call inside the attempt's transaction). A worker
   * limited to some agents (`onlyAgents`) admits among those; if only an agent outside its set could
   * run the task now, the answer is `handBack`, so a worker that may run that agent takes the job.
   */
  async admit(
    tx: Tx,
    task: TaskRow,
    now: Date,
    onlyAgents?: ReadonlySet<string>,
  ): Promise<Admission | { handBack: true }> {
    if (this.#deps.repoDailyBudgetUsd !== undefined)
      await this.#lock(tx, REPOSITORY_LOCK_CLASS, task.repository, true);
    const estimated = await this.#estimate(tx, task);
    const previous = await poolStore.lastSession(tx, task.id);
    const repositoryBlock = await this.#repositoryBudget(tx, task, estimated.usage, now);
    const demand = {
      ...this.#cliOf(task),
      submittedBy: task.submittedBy,
      estimate: estimated.usage,
      ...(previous?.agentId ? { previousAgentId: previous.agentId } : {}),
    };
    // Chosen on a view taken without any lock, then confirmed under the chosen agent's lock on a
    // fresh look at that agent alone: an admission committed meanwhile is seen then. An agent
    // whose lock another admission holds is left out of the next look.
    const contended = new Set<string>();
    for (let round = 0; round < ADMISSION_ROUNDS; round++) {
      const snapshots = (await this.snapshots(tx, now)).filter((s) => !contended.has(s.snapshot.id));
      const mine = onlyAgents ? snapshots.filter((s) => onlyAgents.has(s.snapshot.id)) : snapshots;
      let decision: AdmissionDecision =
        repositoryBlock ??
        admit(
          demand,
          mine.map((s) => s.snapshot),
          now,
        );
      if (decision.kind !== 'admit' && onlyAgents && !repositoryBlock) {
        const anywhere = admit(
          demand,
          snapshots.map((s) => s.snapshot),
          now,
        );
        if (anywhere.kind === 'admit') return { handBack: true };
        decision = anywhere; // park or refuse on the whole pool's view, not this worker's
      }
      if (decision.kind !== 'admit') {
        if (contended.size > 0 && !repositoryBlock) return { decision: contendedWait(contended) };
        if (decision.kind === 'park') await this.#alertParked(tx, task, decision, now);
        return { decision };
      }
      if (!(await this.#lock(tx, AGENT_LOCK_CLASS, decision.agentId, round === 0))) {
        contended.add(decision.agentId);
        continue;
      }
      const [fresh] = await this.snapshots(tx, now, decision.agentId);
      if (fresh && admit(demand, [fresh.snapshot], now).kind === 'admit') {
        // Recorded as decided on the whole pool: the explanation names every agent's verdict.
        const session = this.#session(task.id, previous, fresh.row.cli as AgentCli);
        return {
          decision,
          agent: this.#identity(fresh.row, decision.model),
          record: { decision, estimate: estimated.usage, estimateBasis: estimated.basis, session },
        };
      }
      // Taken meanwhile: the next look sees the agent as it now is.
    }
    return { decision: contendedWait(contended) };
  }

  /**
   * Whether `task` may ride in an agent session already admitted on `agentId` (batching), judged
   * as its own admission: the agent must serve this submitter and model and have room in every
   * window for this task's estimate on top of what is already reserved (the lead and the
   * companions taken before it, all inside this transaction), and the repository budget must
   * allow it. The run slot is the lead's. Undefined when it may not: it then runs on its own.
   */
  async admitCompanion(
    tx: Tx,
    task: TaskRow,
    agentId: string,
    session: AdmissionRecord['session'],
    now: Date,
  ): Promise<AdmissionRecord | undefined> {
    // The lead holds the agent's lock; a companion from a budgeted repository also needs its
    // repository's, but only tries it (see #lock).
    if (
      this.#deps.repoDailyBudgetUsd !== undefined &&
      !(await this.#lock(tx, REPOSITORY_LOCK_CLASS, task.repository, false))
    ) {
      return undefined;
    }
    const estimated = await this.#estimate(tx, task);
    if (await this.#repositoryBudget(tx, task, estimated.usage, now)) return undefined;
    const [agent] = await this.snapshots(tx, now, agentId);
    if (!agent) return undefined;
    const demand = { cli: agent.row.cli, submittedBy: task.submittedBy, estimate: estimated.usage };
    const decision = admit(demand, [{ ...agent.snapshot, running: 0 }], now);
    if (decision.kind !== 'admit') return undefined;
    return {
      decision: { ...decision, reason: 'batched: rides in the session of another task on this agent' },
      estimate: estimated.usage,
      estimateBasis: estimated.basis,
      session,
    };
  }

  /**
   * Records, in the audit trail, each quota window that this attempt's usage took past 80 %: the
   * moment worth an alert, once per window rather than on every attempt while it stays high.
   */
  async recordQuotaCrossings(tx: Tx, agentId: string, used: Usage, now: Date): Promise<void> {
    const [row] = await poolStore.listAgentRows(tx, agentId);
    const windows = row ? windowsOf(row) : [];
    if (!row || windows.length === 0) return;
    for (const window of await this.#windowStates(tx, row, windows, now)) {
      const before = window.used - used[window.metric];
      if (
        window.limit > 0 &&
        before < HIGH_QUOTA_SHARE * window.limit &&
        window.used >= HIGH_QUOTA_SHARE * window.limit
      ) {
        await appendAudit(tx, {
          at: now,
          actor: 'supervisor',
          action: 'agent.quota_high',
          agentId,
          details: {
            window: window.name,
            metric: window.metric,
            used: window.used,
            limit: window.limit,
            resetsAt: window.resetsAt.toISOString(),
          },
        });
      }
    }
  }

  /** Applies what an attempt's outcome says about its agent: cooldown, exhaustion, disabling, warning. */
  async applyOutcome(
    tx: Queryable,
    agentId: string,
    facts: AttemptSignalFacts & { quotaWarningUntil?: Date },
    now: Date,
  ): Promise<AgentSignal> {
    const signal = agentSignal(facts, now);
    if (signal.kind === 'cooldown') {
      await poolStore.setCooldown(tx, {
        agentId,
        model: signal.model,
        until: signal.until,
        reason: signal.reason,
        createdAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: signal.reason === 'quota_exhausted' ? 'agent.exhausted' : 'agent.cooling_down',
        agentId,
        details: { model: signal.model, until: signal.until.toISOString() },
      });
    } else if (signal.kind === 'disable') {
      await poolStore.updateAgent(tx, agentId, {
        state: 'disabled',
        stateReason: signal.reason,
        updatedAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'agent.disabled',
        agentId,
        details: { reason: signal.reason },
      });
      this.#deps.logger.error(
        { agentId, reason: signal.reason },
        'agent disabled: its credential was rejected',
      );
    }
    if (facts.quotaWarningUntil)
      await poolStore.updateAgent(tx, agentId, { warningUntil: facts.quotaWarningUntil });
    return signal;
  }

  async setState(
    id: string,
    state: 'active' | 'paused',
    actor: string,
    now: Date,
  ): Promise<poolStore.AgentRow | undefined> {
    return this.#deps.db.transaction(async (tx) => {
      const row = await poolStore.updateAgent(tx, id, {
        state,
        stateReason: state === 'paused' ? `paused by ${actor}` : null,
        updatedAt: now,
      });
      if (row)
        await appendAudit(tx, {
          at: now,
          actor,
          action: state === 'paused' ? 'agent.paused' : 'agent.resumed',
          agentId: id,
        });
      return row;
    });
  }

  /** Forgets the agent's usage so far and its cooldowns, e.g. after the provider raised a limit. */
  async resetQuota(id: string, actor: string, now: Date): Promise<poolStore.AgentRow | undefined> {
    return this.#deps.db.transaction(async (tx) => {
      const row = await poolStore.updateAgent(tx, id, {
        quotaResetAt: now,
        warningUntil: null,
        updatedAt: now,
      });
      if (!row) return undefined;
      await poolStore.clearCooldowns(tx, id);
      await appendAudit(tx, { at: now, actor, action: 'agent.quota_reset', agentId: id });
      return row;
    });
  }

  async status(now: Date): Promise<AgentStatus[]> {
    const snapshots = await this.snapshots(this.#deps.db, now);
    return snapshots.map(({ row, snapshot, windows }) => ({
      id: row.id,
      cli: row.cli,
      credentialClass: row.credentialClass,
      credentialFingerprint: row.credentialFingerprint,
      owner: row.owner,
      models: row.definition.models,
      state: row.state,
      stateReason: row.stateReason,
      running: snapshot.running,
      maxConcurrent: snapshot.maxConcurrent,
      windows: snapshot.windows.map((window, i) => ({
        ...window,
        remaining: Math.max(0, window.limit - window.used),
        hours: windows[i]!.hours,
        mode: windows[i]!.mode,
      })),
      cooldowns: snapshot.cooldowns,
      warningUntil: row.warningUntil,
      quotaResetAt: row.quotaResetAt,
    }));
  }

  /** Every agent (or only `onlyId`) as admission sees it now. */
  async snapshots(
    q: Queryable,
    now: Date,
    onlyId?: string,
  ): Promise<Array<{ row: poolStore.AgentRow; snapshot: AgentSnapshot; windows: QuotaWindow[] }>> {
    // One after another: inside a transaction they share one connection.
    const rows = await poolStore.listAgentRows(q, onlyId);
    const running = await poolStore.runningByAgent(q, onlyId);
    const cooldowns = await poolStore.activeCooldowns(q, now, onlyId);
    const result = [];
    for (const row of rows) {
      const windows = windowsOf(row);
      const states = await this.#windowStates(q, row, windows, now);
      result.push({
        row,
        windows,
        snapshot: {
          id: row.id,
          cli: row.cli,
          credentialClass: row.credentialClass,
          ...(row.owner ? { owner: row.owner } : {}),
          models: row.definition.models,
          maxConcurrent: row.definition.maxConcurrent,
          state: row.state,
          ...(row.stateReason ? { stateReason: row.stateReason } : {}),
          running: running.get(row.id) ?? 0,
          cooldowns: cooldowns
            .filter((cooldown) => cooldown.agentId === row.id)
            .map((cooldown) => ({ model: cooldown.model, until: cooldown.until, reason: cooldown.reason })),
          windows: states,
          ...(row.warningUntil ? { warningUntil: row.warningUntil } : {}),
        } satisfies AgentSnapshot,
      });
    }
    return result;
  }

  /** Each of the agent's quota windows: its limit, what is used of it now, and when it resets. */
  async #windowStates(
    q: Queryable,
    row: poolStore.AgentRow,
    windows: QuotaWindow[],
    now: Date,
  ): Promise<WindowState[]> {
    const reset = row.quotaResetAt ?? new Date(0);
    const starts = windows.map((window) => {
      // Fixed windows align to the epoch (24-hour ones are UTC days); a manual reset restarts the count.
      const start = windowStart(window, now, new Date(0));
      return new Date(Math.max(start.getTime(), reset.getTime()));
    });
    const usage = await poolStore.usageSince(q, row.id, starts);
    return windows.map((window, i) => ({
      name: window.name,
      metric: window.metric,
      limit: window.limit,
      used: round(usage[i]!.usage[window.metric]),
      resetsAt: windowResetsAt(window, now, new Date(0), usage[i]!.oldest),
    }));
  }

  /** The CLI the task must run on (an approval rule), and the one its submission prefers. */
  #cliOf(task: TaskRow): { cli?: AgentCli; preferredCli?: AgentCli } {
    const cli = this.#deps.cliFor?.(task);
    return { ...(cli ? { cli } : {}), ...(task.agentCli ? { preferredCli: task.agentCli } : {}) };
  }

  #identity(row: poolStore.AgentRow, model: string): AgentIdentity {
    const credential = JSON.parse(this.#deps.secrets.open(row.credentialSecret)) as Credential;
    return {
      id: row.id,
      cli: row.cli as AgentCli,
      model,
      credential,
      ...(row.definition.baseUrl ? { baseUrl: row.definition.baseUrl } : {}),
    };
  }

  /**
   * The session an attempt runs in. A later attempt, on this or another agent of the same CLI,
   * resumes the last session when the transcript of the attempt that ran it is on this host (it is
   * copied into the new attempt's own state directory). Sessions do not cross CLIs.
   */
  #session(
    taskId: string,
    previous: { sessionId: string; agentId: string | null; driver: string; attemptIds: string[] } | undefined,
    cli: AgentCli,
  ): AdmissionRecord['session'] {
    if (!previous) return { id: randomUUID(), resumed: false, note: 'first session of this task' };
    if (previous.driver !== cli) {
      return {
        id: randomUUID(),
        resumed: false,
        note: `session ${previous.sessionId} ran on ${previous.driver}, which ${cli} cannot resume: starting afresh`,
      };
    }
    // The newest attempt that got as far as writing the transcript (a later one may have failed
    // before its agent started).
    const fromAttempt = previous.attemptIds.find((attemptId) =>
      sessionExists(cli, join(this.#deps.sessionsDir, taskId, attemptId), previous.sessionId),
    );
    if (fromAttempt) {
      return {
        id: previous.sessionId,
        resumed: true,
        fromAttempt,
        note: `resuming session ${previous.sessionId} of agent ${previous.agentId}`,
      };
    }
    return {
      id: randomUUID(),
      resumed: false,
      note: `session ${previous.sessionId} cannot be resumed here (no transcript on this host): starting afresh`,
    };
  }

  async #estimate(q: Queryable, task: TaskRow): Promise<ReturnType<typeof estimateUsage>> {
    const key = `${task.type}\0${task.repository}`;
    const cached = this.#estimates.get(key);
    if (cached && Date.now() - cached.at < ESTIMATE_TTL_MS) return cached.value;
    // One after another: `q` may be a transaction, which has one connection.
    const sameRepository = await poolStore.historyAverage(q, task.type, task.repository);
    const sameType = await poolStore.historyAverage(q, task.type);
    const value = estimateUsage({ sameRepository, sameType }, this.#fallbackEstimate());
    this.#estimates.set(key, { at: Date.now(), value });
    return value;
  }

  /** What a task is expected to use before any of its kind has succeeded. */
  #fallbackEstimate(): Usage {
    return { requests: 10, tokens: 100_000, usd: this.#deps.defaultEstimateUsd };
  }

  async #repositoryBudget(
    tx: Tx,
    task: TaskRow,
    estimate: Usage,
    now: Date,
  ): Promise<AdmissionDecision | undefined> {
    const budget = this.#deps.repoDailyBudgetUsd;
    if (!budget) return undefined;
    const dayStart = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
    const spent = await poolStore.repositorySpendSince(tx, task.repository, dayStart);
    if (spent + estimate.usd <= budget) return undefined;
    const until = new Date(dayStart.getTime() + DAY_MS);
    return {
      kind: 'park',
      because: 'budget',
      until,
      verdicts: [],
      reason: `repository ${task.repository} has spent $${spent.toFixed(4)} of its $${budget} daily budget (REPO_DAILY_BUDGET_USD)`,
    };
  }

  /**
   * Records, for the notifications, that work is parking: `pool.exhausted` when every agent is out
   * of quota or budget, `pool.no_agent` when no enabled agent can run it. At most once per
   * EXHAUSTED_ALERT_INTERVAL_MS per kind and process, not once per parked task.
   */
  async #alertParked(
    tx: Tx,
    task: TaskRow,
    decision: AdmissionDecision & { kind: 'park' },
    now: Date,
  ): Promise<void> {
    const action = decision.because === 'no_agent' ? 'pool.no_agent' : 'pool.exhausted';
    if (now.getTime() - (this.#lastParkAlert.get(action) ?? 0) < EXHAUSTED_ALERT_INTERVAL_MS) return;
    this.#lastParkAlert.set(action, now.getTime());
    await appendAudit(tx, {
      at: now,
      actor: 'supervisor',
      action,
      taskId: task.id,
      details: {
        because: decision.because,
        until: decision.until?.toISOString() ?? null,
        reason: decision.reason,
      },
    });
    this.#deps.logger.warn(
      { until: decision.until, because: decision.because, reason: decision.reason },
      'no agent can take work: tasks are parked',
    );
  }
}

/** The answer when other admissions kept taking the agents that fit: look again when a slot frees. */
function contendedWait(contended: ReadonlySet<string>): AdmissionDecision {
  const agents = [...contended].join(', ');
  return {
    kind: 'wait',
    verdicts: [],
    reason: agents
      ? `the agents that fit (${agents}) were being admitted to by other workers`
      : 'the agents that fit were taken by other admissions meanwhile',
  };
}

/** An agent's quota windows, including its daily budget as a fixed 24-hour dollar window. */
function windowsOf(row: poolStore.AgentRow): QuotaWindow[] {
  return windowsOfLimits(row.definition);
}

function windowsOfLimits(limits: AgentLimits): QuotaWindow[] {
  const windows = [...limits.windows];
  if (limits.dailyBudgetUsd) {
    windows.push({
      name: 'daily budget',
      metric: 'usd',
      limit: limits.dailyBudgetUsd,
      hours: 24,
      mode: 'fixed',
    });
  }
  return windows;
}

function round(value: number): number {
  return Math.round(value * 1_000_000) / 1_000_000;
}

/** Whether an attempt's state directory holds the session's transcript, where its CLI keeps it. */
function sessionExists(cli: AgentCli, stateDir: string, sessionId: string): boolean {
  switch (cli) {
    case 'claude-code':
      return transcriptExists(join(stateDir, 'config'), sessionId);
    case 'codex':
      return codexThreadExists(stateDir, sessionId);
    case 'gemini':
      return geminiChat(stateDir, sessionId) !== undefined;
  }
}
