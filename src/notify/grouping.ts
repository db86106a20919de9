import type { Alert, AlertKind } from './alerts.ts';
import type { Notification } from './message.ts';

/**
 * Storms become one message: alerts of one kind and key wait until the first of them is
 * `windowMs` old, then go out as one notification with a count. Pure.
 */
export interface PendingAlert extends Alert {
  id: number;
}

/** The groups whose first alert has waited a full window, oldest group first. */
export function dueGroups(pending: PendingAlert[], now: Date, windowMs: number): PendingAlert[][] {
  const groups = new Map<string, PendingAlert[]>();
  for (const alert of [...pending].sort((a, b) => a.id - b.id)) {
    const key = `${alert.kind}\u0000${alert.groupKey}`;
    groups.set(key, [...(groups.get(key) ?? []), alert]);
  }
  return [...groups.values()]
    .filter((group) => group[0]!.at.getTime() <= now.getTime() - windowMs)
    .sort((a, b) => a[0]!.id - b[0]!.id);
}

const str = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
const plural = (count: number, one: string, many: string) => (count === 1 ? one : `${count} ${many}`);

/** Counts of each value, most frequent first: "auth_failed ×3, timeout ×2". */
function tally(values: Array<string | undefined>): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value ?? 'unknown', (counts.get(value ?? 'unknown') ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([value, count]) => (count === 1 ? value : `${value} ×${count}`))
    .join(', ');
}

/** One self-explanatory message for a group: what happened, to what, why, what to do, where to look. */
export function notificationFor(
  group: PendingAlert[],
  options: { id: string; now: Date; publicUrl?: string },
): Notification {
  const first = group[0]!;
  const last = group.at(-1)!;
  const count = group.length;
  const facts = first.facts;
  const taskId = str(facts.taskId);
  const agentId = str(facts.agentId);
  const link = (path: string) =>
    options.publicUrl ? `${options.publicUrl.replace(/\/+$/, '')}${path}` : undefined;
  const text = describe(first.kind, group, { taskId, agentId });
  const url = link(text.path);
  return {
    id: options.id,
    kind: first.kind,
    severity: first.severity,
    title: text.title,
    what: text.what,
    subject: {
      ...(count === 1 && taskId ? { taskId } : {}),
      ...(agentId ? { agentId } : {}),
      ...(str(facts.component) ? { component: str(facts.component)! } : {}),
      ...(str(facts.submission) ? { submissionId: str(facts.submission)! } : {}),
    },
    ...(text.why ? { why: text.why } : {}),
    action: text.action,
    ...(url ? { link: url } : {}),
    count,
    firstAt: first.at,
    lastAt: last.at,
    at: options.now,
    ...(first.kind === 'approval_requested' && taskId && str(facts.approval)
      ? { approval: { taskId, approvalId: str(facts.approval)! } }
      : {}),
  };
}

interface Text {
  title: string;
  what: string;
  why?: string;
  action: string;
  /** Where to look: an API path under PUBLIC_URL (the dashboard's pages replace these when it lands). */
  path: string;
}

function describe(
  kind: AlertKind,
  group: PendingAlert[],
  subject: { taskId: string | undefined; agentId: string | undefined },
): Text {
  const count = group.length;
  const facts = group[0]!.facts;
  const outcomes = tally(group.map((alert) => str(alert.facts.outcome)));
  const taskList = group
    .slice(0, 5)
    .map((alert) => `${str(alert.facts.taskId) ?? '?'} (${str(alert.facts.outcome) ?? 'failed'})`)
    .join(', ');
  const more = count > 5 ? ` and ${count - 5} more` : '';
  const evidence = (alert: PendingAlert) => {
    const error = str(alert.facts.error);
    const signal = (alert.facts.evidence as { signal?: string; detail?: string } | undefined)?.signal;
    return [error, signal ? `evidence: ${signal}` : undefined].filter(Boolean).join('; ') || undefined;
  };
  switch (kind) {
    case 'task_failed':
      return count === 1
        ? {
            title: `Task ${subject.taskId} failed (${str(facts.outcome) ?? 'failed'})`,
            what: `The ${str(facts.type) ?? ''} task on ${str(facts.repository) ?? 'its repository'} failed after its retries.`,
            ...(evidence(group[0]!) ? { why: evidence(group[0]!)! } : {}),
            action: `Read its attempts (supervisor show ${subject.taskId}), fix the cause, then retry it (supervisor retry ${subject.taskId}).`,
            path: `/api/v1/tasks/${subject.taskId}`,
          }
        : {
            title: `${count} tasks failed after their retries`,
            what: `Failed: ${taskList}${more}.`,
            why: `Outcomes: ${outcomes}.`,
            action: 'Look for a common cause (an agent, a repository, the model API) before retrying them.',
            path: '/api/v1/tasks?status=failed',
          };
    case 'budget_exceeded':
      return {
        title: `${plural(count, `Task ${subject.taskId}`, 'tasks')} stopped: budget exceeded`,
        what: `${count === 1 ? 'It' : 'They'} used ${count === 1 ? 'its' : 'their'} spend or time limit: ${taskList}${more}.`,
        ...(evidence(group[0]!) ? { why: evidence(group[0]!)! } : {}),
        action:
          'Raise max_cost_usd or max_duration_seconds on a retry, or split the task; partial work stays on its branch.',
        path: count === 1 ? `/api/v1/tasks/${subject.taskId}` : '/api/v1/tasks?status=failed',
      };
    case 'task_needs_input':
      return {
        title: `Task ${subject.taskId} needs input`,
        what: str(facts.question)
          ? `The agent stopped to ask: ${str(facts.question)}`
          : 'The agent stopped to ask a question it cannot answer alone.',
        ...(evidence(group[0]!) ? { why: evidence(group[0]!)! } : {}),
        action: `Read the question (supervisor show ${subject.taskId}) and answer it: supervisor reply ${subject.taskId} <answer…>. The agent's session goes on with it.`,
        path: `/api/v1/tasks/${subject.taskId}`,
      };
    case 'approval_requested':
      return {
        title: `Task ${subject.taskId} waits for your approval`,
        what: `Its agent asks to run ${str(facts.tool) ?? 'a tool'}: ${str(facts.reason) ?? 'the approval policy holds it'}.`,
        action: `Approve or deny it (supervisor approve ${subject.taskId}, or supervisor deny ${subject.taskId} --note <why>); nobody answering in time counts as a denial.`,
        path: `/api/v1/tasks/${subject.taskId}`,
      };
    case 'agent_disabled':
      return {
        title: `Agent ${subject.agentId} disabled`,
        what: `Agent ${subject.agentId} takes no more tasks${count > 1 ? ` (${count} signals)` : ''}.`,
        ...(str(facts.reason) ? { why: str(facts.reason)! } : {}),
        action: `Fix its credential or billing, then resume it: supervisor agents resume ${subject.agentId}.`,
        path: '/api/v1/agents/quota/status',
      };
    case 'agents_exhausted':
      return {
        title: 'Every agent is out of quota: tasks are parked',
        what: `New tasks wait until an agent has quota again${count > 1 ? ` (${count} times in this window)` : ''}.`,
        ...(str(facts.reason) ? { why: str(facts.reason)! } : {}),
        action:
          'Nothing is lost: parked tasks start by themselves when a window resets. Add an agent or raise its limits to go sooner.',
        path: '/api/v1/agents/quota/status',
      };
    case 'no_agent':
      return {
        title: 'No enabled agent can run new tasks: they are parked',
        what: `New tasks wait until an agent can run them${count > 1 ? ` (${count} times in this window)` : ''}; none has failed for this.`,
        ...(str(facts.reason) ? { why: str(facts.reason)! } : {}),
        action:
          'Configure an agent (CLAUDE_API_KEYS or AGENTS_FILE), or fix a disabled one and run supervisor agents resume <id>: parked tasks then start by themselves.',
        path: '/api/v1/agents/quota/status',
      };
    case 'quota_high':
      return {
        title: `Agent ${subject.agentId} has used over 80% of ${str(facts.window) ?? 'a quota window'}`,
        what: `It will be preferred less and park tasks once the window is used up.`,
        ...(str(facts.resetsAt) ? { why: `The window resets at ${str(facts.resetsAt)}.` } : {}),
        action: 'Expect parked tasks until the reset, or add capacity.',
        path: '/api/v1/agents/quota/status',
      };
    case 'component_down':
      return {
        title: `${str(facts.component)} is down`,
        what: `The supervisor cannot reach ${str(facts.component)}.`,
        ...(str(facts.error) ? { why: str(facts.error)! } : {}),
        action:
          'Check the service and the supervisor’s connection settings; work resumes by itself when it is back.',
        path: '/health/detailed',
      };
    case 'batch_finished':
      return batchSummary(facts);
    case 'component_recovered':
      return {
        title: `${str(facts.component)} is back`,
        what: `The supervisor reaches ${str(facts.component)} again.`,
        action: 'Nothing to do.',
        path: '/health/detailed',
      };
  }
}

/** The summary of a finished batch submission (facts: src/tasks/submissions.ts). */
function batchSummary(facts: Record<string, unknown>): Text {
  const id = str(facts.submission) ?? '?';
  const number = (value: unknown) => (typeof value === 'number' ? value : 0);
  const total = number(facts.tasks);
  const succeeded = number(facts.succeeded);
  const outcomes = Object.entries((facts.outcomes ?? {}) as Record<string, number>)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ');
  const unsuccessful = (facts.unsuccessful ?? []) as Array<{ id: string; outcome: string }>;
  const listed = unsuccessful.map((task) => `${task.id} (${task.outcome})`).join(', ');
  const unlisted = total - succeeded - unsuccessful.length;
  const cost = `$${number(facts.costUsd).toFixed(4)}`;
  return {
    title: `Batch ${id.slice(0, 8)} finished: ${succeeded} of ${total} ${total === 1 ? 'task' : 'tasks'} succeeded, ${cost}`,
    what:
      `Succeeded ${succeeded}, failed ${number(facts.failed)}, cancelled ${number(facts.cancelled)}` +
      `${outcomes ? ` (${outcomes})` : ''}; ${cost} spent over ${number(facts.durationSeconds)} s. ` +
      `Submitted by ${str(facts.submittedBy) ?? 'unknown'}.`,
    ...(listed ? { why: `Did not succeed: ${listed}${unlisted > 0 ? ` and ${unlisted} more` : ''}.` } : {}),
    action:
      succeeded === total
        ? 'Nothing to do: every task succeeded.'
        : 'Read the tasks that did not succeed (supervisor show <id>), fix the cause, then retry them; the batch is summed up again when they end.',
    path: `/api/v1/tasks?submission=${id}`,
  };
}
