import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AgentEvent, PeopleChannel, ToolCall, ToolDecision } from '../agents/driver.ts';
import { appendAudit } from '../audit/audit-log.ts';
import { type ApprovalRule, judgeToolCall } from '../core/approval-policy.ts';
import { steeringText } from '../core/prompts.ts';
import { closeApproval, getApproval, insertApproval } from '../store/approval-store.ts';
import type { Db } from '../store/database.ts';
import { takeWaitingMessages } from '../store/message-store.ts';
import type { ApprovalRow, AttemptRow, TaskRow } from '../store/schema.ts';

export interface PeopleChannelDeps {
  db: Db;
  task: TaskRow;
  attempt: AttemptRow;
  /** The approval policy's rule for the task's repository, if one applies. */
  rule: ApprovalRule | undefined;
  /** How long a tool call waits for a person when the rule does not say. */
  defaultTimeoutMs: number;
  /** How often the wait looks for a decision (decisions come from any API process, through the database). */
  pollMs: number;
  /** The run's prompt nonce (messages are fenced as data) and its working directory. */
  nonce: string;
  workspaceDir: string;
  emit(events: AgentEvent[]): Promise<void>;
  logger: Logger;
  now: () => Date;
}

/**
 * What people send one running attempt, kept in the database: messages people sent the task go
 * into the agent's next turn; a tool call the CLI asks about is refused, or waits for a person as
 * the approval policy says (src/core/approval-policy.ts), and counts as denied when nobody answers
 * in time, so nothing stalls.
 */
export class AttemptPeople implements PeopleChannel {
  readonly asksPeople: boolean;
  readonly gatedWrites: readonly string[];
  readonly #deps: PeopleChannelDeps;
  readonly #listeners: Array<() => void> = [];

  constructor(deps: PeopleChannelDeps) {
    this.#deps = deps;
    this.asksPeople = deps.rule !== undefined;
    this.gatedWrites = deps.rule?.ask.writes ?? [];
  }

  onMessages(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Called by the worker when it saw messages waiting for this task. */
  messagesWaiting(): void {
    for (const listener of this.#listeners) listener();
  }

  async takeMessages(): Promise<string[]> {
    const { db, task, nonce } = this.#deps;
    const taken = await takeWaitingMessages(db, task.id, task.retryBaseAttempt);
    if (taken.length === 0) return [];
    await this.#deps.emit(
      taken.map((message) => ({
        type: 'supervisor/message',
        data: { message: message.id, author: message.author, delivered: 'next_turn' },
      })),
    );
    return taken.map((message) => steeringText(message.author, message.text, nonce));
  }

  async decide(call: ToolCall, signal: AbortSignal): Promise<ToolDecision> {
    const { rule, workspaceDir } = this.#deps;
    const verdict = judgeToolCall(rule, call, workspaceDir);
    if (!verdict.ask) {
      await this.#deps.emit([
        { type: 'supervisor/tool_refused', data: { tool: call.tool, reason: verdict.message } },
      ]);
      return { allow: false, message: verdict.message };
    }
    const approval = await this.#request(call, verdict.reason);
    const closed = await this.#waitForDecision(approval, signal);
    await this.#deps.emit([{ type: 'supervisor/approval', data: approvalEvent(closed) }]);
    return decisionOf(closed);
  }

  async #request(call: ToolCall, reason: string): Promise<ApprovalRow> {
    const { db, task, attempt, rule } = this.#deps;
    const now = this.#deps.now();
    const timeoutMs = rule?.timeout_seconds ? rule.timeout_seconds * 1000 : this.#deps.defaultTimeoutMs;
    const approval: ApprovalRow = {
      id: randomUUID(),
      taskId: task.id,
      attemptId: attempt.id,
      tool: call.tool,
      input: call.input ?? {},
      reason,
      status: 'pending',
      decidedBy: null,
      note: null,
      requestedAt: now,
      expiresAt: new Date(now.getTime() + timeoutMs),
      decidedAt: null,
    };
    await db.transaction(async (tx) => {
      await insertApproval(tx, approval);
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'approval.requested',
        taskId: task.id,
        details: { approval: approval.id, attempt: attempt.number, tool: call.tool, reason },
      });
    });
    await this.#deps.emit([{ type: 'supervisor/approval', data: approvalEvent(approval) }]);
    this.#deps.logger.info(
      { taskId: task.id, approval: approval.id, tool: call.tool },
      'tool call waits for a person',
    );
    return approval;
  }

  /** Waits until a person decides, the time is up (denied), or the attempt ends (withdrawn). */
  async #waitForDecision(approval: ApprovalRow, signal: AbortSignal): Promise<ApprovalRow> {
    const { db, pollMs } = this.#deps;
    for (;;) {
      if (signal.aborted) return (await this.#close(approval, 'withdrawn')) ?? approval;
      const now = this.#deps.now();
      const current = await getApproval(db, approval.id).catch(() => undefined);
      if (current && current.status !== 'pending') return current;
      if (now >= approval.expiresAt) {
        const expired = await this.#close(approval, 'expired');
        if (expired) return expired;
        continue; // a person decided at the last moment: read their decision
      }
      const wait = Math.min(pollMs, approval.expiresAt.getTime() - now.getTime());
      await delay(Math.max(wait, 1), undefined, { signal }).catch(() => {});
    }
  }

  async #close(approval: ApprovalRow, status: 'expired' | 'withdrawn'): Promise<ApprovalRow | undefined> {
    const now = this.#deps.now();
    return this.#deps.db.transaction(async (tx) => {
      const closed = await closeApproval(tx, approval.id, {
        status,
        decidedBy: 'system',
        note: null,
        at: now,
      });
      if (closed) {
        await appendAudit(tx, {
          at: now,
          actor: 'supervisor',
          action: `approval.${status}`,
          taskId: approval.taskId,
          details: { approval: approval.id, tool: approval.tool },
        });
      }
      return closed;
    });
  }
}

/** What the task's event stream says about an approval. */
function approvalEvent(approval: ApprovalRow): Record<string, unknown> {
  return {
    approval: approval.id,
    status: approval.status,
    tool: approval.tool,
    input: approval.input,
    reason: approval.reason,
    expires_at: approval.expiresAt.toISOString(),
    ...(approval.decidedBy ? { decided_by: approval.decidedBy } : {}),
    ...(approval.note ? { note: approval.note } : {}),
  };
}

/** What the agent is told: a denial says who decided and why, so it can go on without the call. */
function decisionOf(approval: ApprovalRow): ToolDecision {
  switch (approval.status) {
    case 'approved':
      return { allow: true };
    case 'denied':
      return {
        allow: false,
        byPerson: true,
        message: `${approval.decidedBy} denied this tool call${approval.note ? `: ${approval.note}` : '.'} It was not run; carry on without it, or say in your answer that it is needed.`,
      };
    case 'expired': {
      const seconds = Math.round((approval.expiresAt.getTime() - approval.requestedAt.getTime()) / 1000);
      return {
        allow: false,
        byPerson: true,
        message: `No one approved this tool call within ${seconds} s, so it was not run; carry on without it, or say in your answer that it is needed.`,
      };
    }
    default:
      return { allow: false, message: 'This tool call was not approved; it was not run.' };
  }
}
