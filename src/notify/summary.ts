import { and, gte, isNotNull, lt, sql } from 'drizzle-orm';
import type { Queryable } from '../store/database.ts';
import { agents, taskAttempts, tasks } from '../store/schema.ts';
import type { Notification } from './message.ts';

/** What a day looked like: finished tasks by status and outcome, spend, tokens, agent states. */
export interface DayFigures {
  from: Date;
  to: Date;
  finished: Array<{ status: string; outcome: string | null; count: number }>;
  costUsd: number;
  tokens: number;
  agents: Record<string, number>;
}

export async function dayFigures(q: Queryable, from: Date, to: Date): Promise<DayFigures> {
  const finished = await q
    .select({ status: tasks.status, outcome: tasks.outcome, count: sql<number>`count(*)::int` })
    .from(tasks)
    .where(and(isNotNull(tasks.finishedAt), gte(tasks.finishedAt, from), lt(tasks.finishedAt, to)))
    .groupBy(tasks.status, tasks.outcome);
  const [spend] = await q
    .select({
      costUsd: sql<number>`coalesce(sum(${taskAttempts.costUsd}), 0)::float8`,
      tokens: sql<number>`coalesce(sum(${taskAttempts.inputTokens} + ${taskAttempts.outputTokens} + ${taskAttempts.cacheReadTokens} + ${taskAttempts.cacheWriteTokens}), 0)::float8`,
    })
    .from(taskAttempts)
    .where(and(gte(taskAttempts.startedAt, from), lt(taskAttempts.startedAt, to)));
  const states = await q
    .select({ state: agents.state, count: sql<number>`count(*)::int` })
    .from(agents)
    .groupBy(agents.state);
  return {
    from,
    to,
    finished: finished.map((row) => ({ ...row, count: Number(row.count) })),
    costUsd: Number(spend?.costUsd ?? 0),
    tokens: Number(spend?.tokens ?? 0),
    agents: Object.fromEntries(states.map((row) => [row.state, Number(row.count)])),
  };
}

/** The daily summary message. Pure. */
export function summaryNotification(
  figures: DayFigures,
  options: { id: string; now: Date; publicUrl?: string },
): Notification {
  const total = figures.finished.reduce((sum, row) => sum + row.count, 0);
  const byStatus = (status: string) =>
    figures.finished.filter((row) => row.status === status).reduce((sum, row) => sum + row.count, 0);
  const failed = byStatus('failed');
  const failures = figures.finished
    .filter((row) => row.status === 'failed')
    .map((row) => `${row.outcome ?? 'failed'} ${row.count}`)
    .join(', ');
  const agentStates = Object.entries(figures.agents)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
  return {
    id: options.id,
    kind: 'summary',
    severity: failed > 0 ? 'warning' : 'info',
    title: `Daily summary: ${total} tasks finished, ${failed} failed, $${figures.costUsd.toFixed(2)} spent`,
    what:
      `Succeeded ${byStatus('succeeded')}, failed ${failed}${failures ? ` (${failures})` : ''}, cancelled ${byStatus('cancelled')}. ` +
      `Spend $${figures.costUsd.toFixed(2)} over ${Math.round(figures.tokens).toLocaleString('en-US')} tokens.`,
    ...(agentStates ? { why: `Agents: ${agentStates}.` } : {}),
    subject: {},
    action: failed > 0 ? 'Look at the failed tasks for a common cause.' : 'Nothing to do.',
    ...(options.publicUrl
      ? { link: `${options.publicUrl.replace(/\/+$/, '')}/api/v1/tasks/stats/summary` }
      : {}),
    count: 1,
    firstAt: figures.from,
    lastAt: figures.to,
    at: options.now,
  };
}

/** The start of the most recent summary hour at or before `now` (UTC). */
export function lastSummaryTime(now: Date, hour: number): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour);
  return new Date(today <= now.getTime() ? today : today - 86_400_000);
}
