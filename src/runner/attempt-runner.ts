import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type {
  AgentDriver,
  AgentEvent,
  AgentIdentity,
  AgentRunReport,
  AttemptLimits,
  LiveUsage,
  PeopleChannel,
} from '../agents/driver.ts';
import type { AdmissionRecord } from '../core/agent-types.ts';
import { buildBatchPrompt } from '../core/batch-prompt.ts';
import { type Handoff, handoffSection } from '../core/handoff.ts';
import { ZERO_USAGE } from '../core/outcome.ts';
import { buildFollowUpPrompt, buildPrompt, type PromptContext } from '../core/prompts.ts';
import { checkResult } from '../core/result-check.ts';
import type { TaskType } from '../core/task-types.ts';
import type { AttemptMemory, RunMemory } from '../memory/run-memory.ts';
import type { AttemptRow, TaskMessageRow, TaskRow } from '../store/schema.ts';
import {
  type Workspace,
  WorkspaceError,
  type WorkspaceManager,
  type WorkspaceResult,
} from '../workspace/workspace-manager.ts';

/** A push is tried this often, waiting PUSH_RETRY_MS × the try number between tries. */
const PUSH_TRIES = 3;
const PUSH_RETRY_MS = 2000;

/**
 * Runs one attempt from start to end: a workspace for the task, the prompt for its type, the agent
 * driver, and for mutating tasks the branch, commits and diff the agent produced. Failures around
 * the agent (no repository, git trouble) become honest reports instead of exceptions.
 */
export interface AttemptRunnerDeps {
  driver: AgentDriver;
  workspaces: WorkspaceManager;
  /** Each attempt's agent state (CLI config dir with the session transcript) lives under here, per task and attempt. */
  sessionsDir: string;
  limits: AttemptLimits;
  /** Project memory for prompts and the agent's memory tools; unset: none. */
  memory?: RunMemory;
  logger: Logger;
}

export interface AttemptInput {
  task: TaskRow;
  attempt: AttemptRow;
  agent: AgentIdentity;
  session: AdmissionRecord['session'];
  /** What earlier attempts spent and how long the task has run: this attempt gets what is left. */
  budget: { spentUsd: number; elapsedMs: number };
  /**
   * Other tasks that run as items of this attempt's session (batching): same type and workspace
   * key, so `task`'s workspace serves them all. The prompt lists `task` first, then these.
   */
  batch?: TaskRow[];
  /** The person's message this run answers: the prompt is the message, in the resumed session. */
  message?: TaskMessageRow;
  /** What the last attempt did, when its session cannot be resumed: told in the prompt. */
  handoff?: Omit<Handoff, 'carriedOver'>;
  signal: AbortSignal;
  emit(events: AgentEvent[]): Promise<void>;
  onSpawn?(pid: number): void;
  onUsage?(used: LiveUsage): void;
  /** People's part in this run (messages, approvals), given its prompt nonce and working directory. */
  people?(run: { nonce: string; workspaceDir: string }): PeopleChannel;
}

export class AttemptRunner {
  readonly #deps: AttemptRunnerDeps;

  constructor(deps: AttemptRunnerDeps) {
    this.#deps = deps;
  }

  get driverName(): string {
    return this.#deps.driver.name;
  }

  async run(input: AttemptInput): Promise<AgentRunReport> {
    const { task, attempt, agent, signal, emit } = input;
    const log = this.#deps.logger.child({ taskId: task.id, attemptId: attempt.id });
    const started = performance.now();
    // Each attempt's agent state is its own: a late attempt never shares a file with its successor.
    const stateDir = join(this.#deps.sessionsDir, task.id, attempt.id);
    let workspace: Workspace;
    try {
      workspace = this.#deps.driver.usesWorkspace
        ? await this.#deps.workspaces.prepare(task, attempt.id)
        : {
            dir: stateDir,
            readOnly: true,
            kind: 'scratch',
            note: 'this driver runs no agent',
          };
    } catch (error) {
      const message = (error as Error).message;
      log.warn({ err: error }, 'workspace could not be prepared');
      return {
        outcome: error instanceof WorkspaceError ? 'failed' : 'infra_error',
        evidence: { source: 'supervisor', signal: 'workspace', detail: message },
        retryable: !(error instanceof WorkspaceError),
        error: `workspace: ${message}`,
        usage: ZERO_USAGE,
        costUsd: 0,
      };
    }
    const prepareMs = Math.round(performance.now() - started);
    if (this.#deps.driver.usesWorkspace) {
      await emit([
        { type: 'supervisor/session', data: { agent: agent.id, model: agent.model, ...input.session } },
      ]);
      await emit([
        {
          type: 'supervisor/workspace',
          data: {
            kind: workspace.kind,
            read_only: workspace.readOnly,
            branch: workspace.branch ?? null,
            base_commit: workspace.baseCommit ?? null,
            note: workspace.note ?? null,
          },
        },
      ]);
    }
    try {
      const nonce = randomBytes(8).toString('hex');
      const limits = limitsFor(this.#deps.limits, task, input.budget);
      const memory = await this.#memory(task, attempt, workspace, nonce, limits.wallClockMs);
      const handoff = await this.#handoff(input, workspace);
      const context: PromptContext = {
        nonce,
        hasCheckout: workspace.kind === 'worktree',
        ...(workspace.reviewDiff !== undefined ? { reviewDiff: workspace.reviewDiff } : {}),
        ...(workspace.note ? { note: workspace.note } : {}),
        ...(handoff ? { handoff: handoffSection(handoff, nonce) } : {}),
        ...(memory.section ? { memory: memory.section } : {}),
      };
      const { message } = input;
      const prompt = message
        ? buildFollowUpPrompt(
            task.type,
            task.payload,
            {
              // The message that starts a run is never a steer (messageOfRun).
              kind: message.kind === 'answer' ? 'answer' : 'follow_up',
              author: message.author,
              text: message.text,
              resumed: input.session.resumed,
              ...(message.earlier ? { earlier: message.earlier } : {}),
            },
            context,
          )
        : input.batch?.length
          ? buildBatchPrompt(
              task.type,
              [task, ...input.batch].map((item) => item.payload),
              context,
            )
          : buildPrompt(task.type, task.payload, context);
      const report = await this.#deps.driver.run({
        taskId: task.id,
        attemptId: attempt.id,
        attemptNumber: attempt.number,
        type: task.type,
        payload: task.payload,
        agent,
        workspace: { dir: workspace.dir, readOnly: workspace.readOnly },
        prompt,
        session: {
          id: input.session.id,
          resume: input.session.resumed,
          stateDir,
          ...(input.session.fromAttempt
            ? { resumeFrom: join(this.#deps.sessionsDir, task.id, input.session.fromAttempt) }
            : {}),
        },
        limits,
        ...(memory.mcp ? { mcp: memory.mcp } : {}),
        signal,
        emit,
        ...(input.onSpawn ? { onSpawn: input.onSpawn } : {}),
        ...(input.onUsage ? { onUsage: input.onUsage } : {}),
        ...(input.people ? { people: input.people({ nonce, workspaceDir: workspace.dir }) } : {}),
      });
      log.debug({ prepareMs, agentMs: Math.round(performance.now() - started) - prepareMs }, 'agent done');
      const withCommit = workspace.baseCommit ? { ...report, commit: workspace.baseCommit } : report;
      let changes: WorkspaceResult | undefined;
      try {
        changes = await this.#deps.workspaces.collect(workspace, task);
      } catch (error) {
        log.error({ err: error }, 'could not collect the changes from the workspace');
        if (report.outcome !== 'succeeded') return withCommit;
        // Without the branch's state nobody can say whether the change is there.
        return {
          ...withCommit,
          outcome: 'infra_error',
          evidence: { source: 'supervisor', signal: 'workspace', detail: (error as Error).message },
          error: `could not collect the agent's changes: ${(error as Error).message}`,
        };
      }
      const delivered = changes
        ? { ...withCommit, result: { ...(report.result as object | undefined), workspace: changes } }
        : withCommit;
      const settled = this.#deps.driver.usesWorkspace
        ? settle(task.type, delivered, changes, message?.kind === 'follow_up')
        : delivered;
      const pushBranch = (task.payload as { push_branch?: string }).push_branch;
      if (settled.outcome !== 'succeeded' || !changes || !pushBranch) return settled;
      return await this.#push(workspace, pushBranch, settled, changes, signal);
    } finally {
      await this.#deps.workspaces.release(workspace).catch((error: unknown) => {
        log.warn({ err: error }, 'could not remove the workspace; the sweeper will');
      });
    }
  }

  /**
   * Pushes the change where the task asked. A push that still fails after a few tries fails the
   * task (its work stays on its branch, and a retry pushes again): a change nobody can see is not
   * a success.
   */
  async #push(
    workspace: Workspace,
    remoteBranch: string,
    report: AgentRunReport,
    changes: WorkspaceResult,
    signal: AbortSignal,
  ): Promise<AgentRunReport> {
    let failure = '';
    for (let tried = 1; tried <= PUSH_TRIES && !signal.aborted; tried += 1) {
      try {
        const pushed = await this.#deps.workspaces.push(workspace, remoteBranch);
        return { ...report, result: { ...(report.result as object), workspace: { ...changes, pushed } } };
      } catch (error) {
        failure = (error as Error).message;
        this.#deps.logger.warn({ err: error, branch: remoteBranch, tried }, 'could not push the change');
        if (tried < PUSH_TRIES) await delay(PUSH_RETRY_MS * tried, undefined, { signal }).catch(() => {});
      }
    }
    return {
      ...report,
      outcome: 'failed',
      retryable: false,
      evidence: { source: 'supervisor', signal: 'push', detail: failure || 'cancelled before the push' },
      error: `the change is on branch ${changes.branch}, but pushing it as ${remoteBranch} failed: ${failure || 'cancelled'}`,
    };
  }

  /** The handoff with the work the branch carries over, announced on the task's stream. */
  async #handoff(input: AttemptInput, workspace: Workspace): Promise<Handoff | undefined> {
    if (!input.handoff || !this.#deps.driver.usesWorkspace) return undefined;
    const carriedOver = await this.#deps.workspaces.carriedOver(workspace).catch((error: unknown) => {
      this.#deps.logger.warn({ err: error, taskId: input.task.id }, 'could not read the carried-over work');
      return undefined;
    });
    const handoff = { ...input.handoff, ...(carriedOver ? { carriedOver } : {}) };
    await input.emit([
      {
        type: 'supervisor/handoff',
        data: {
          from_attempt: handoff.attempt,
          agent: handoff.agent,
          cli: handoff.cli,
          outcome: handoff.outcome,
          steps: handoff.steps.length,
          omitted: handoff.omitted,
          carried_over: carriedOver ?? null,
        },
      },
    ]);
    return handoff;
  }

  /** Memory for an agent that works in a workspace; nothing for drivers that run no agent. */
  async #memory(
    task: TaskRow,
    attempt: AttemptRow,
    workspace: Workspace,
    nonce: string,
    wallClockMs: number,
  ): Promise<AttemptMemory> {
    if (!this.#deps.memory || !this.#deps.driver.usesWorkspace) return {};
    return this.#deps.memory
      .forAttempt({
        task,
        attemptId: attempt.id,
        commit: workspace.baseCommit,
        onDefaultBranch: namesNoRef(task.payload),
        changedSince: (commit) => this.#deps.workspaces.changedSince(workspace, commit),
        nonce,
        wallClockMs,
      })
      .catch((error: unknown) => {
        // Memory helps a task; it is never a reason for one to fail.
        this.#deps.logger.warn(
          { err: error, taskId: task.id },
          'project memory unavailable for this attempt',
        );
        return {};
      });
  }
}

/**
 * A run the agent calls a success is one only if it delivered what its type asks for (see
 * checkResult): otherwise it ends `no_result`, `no_change` or `needs_input`, its text kept.
 */
function settle(
  type: TaskType,
  report: AgentRunReport,
  changes: WorkspaceResult | undefined,
  followUp: boolean,
): AgentRunReport {
  if (report.outcome !== 'succeeded') return report;
  const shortfall = checkResult({
    type,
    followUp,
    structuredOutput: (report.result as { structured_output?: unknown } | undefined)?.structured_output,
    ...(report.resultText !== undefined ? { resultText: report.resultText } : {}),
    ...(changes ? { filesChanged: changes.files_changed } : {}),
  });
  return shortfall ? { ...report, ...shortfall } : report;
}

/** A payload that names no ref is checked out at the default branch's tip. */
function namesNoRef(payload: TaskRow['payload']): boolean {
  const p = payload as Record<string, unknown>;
  return p.ref === undefined && p.base_ref === undefined && p.head_ref === undefined;
}

/** The attempt's limits: the configured ones, tightened by what is left of the task's own budget. */
export function limitsFor(
  base: AttemptLimits,
  task: TaskRow,
  spent: { spentUsd: number; elapsedMs: number },
): AttemptLimits {
  const budgetUsd =
    task.maxCostUsd === null ? base.budgetUsd : Math.min(base.budgetUsd, task.maxCostUsd - spent.spentUsd);
  const wallClockMs =
    task.maxDurationSeconds === null
      ? base.wallClockMs
      : Math.min(base.wallClockMs, task.maxDurationSeconds * 1000 - spent.elapsedMs);
  // begin() refuses a task with nothing left, so both are positive here; the floor guards rounding.
  return { ...base, budgetUsd: Math.max(budgetUsd, 0.0001), wallClockMs: Math.max(wallClockMs, 1000) };
}
