import { and, desc, eq, gt, inArray, isNotNull, isNull, type SQL, sql } from 'drizzle-orm';
import { WAIT_REASONS, type WaitReason } from '../core/admission.ts';
import type { HistoryAverage } from '../core/cost-estimate.ts';
import type { Usage } from '../core/quota.ts';
import type { TaskType } from '../core/task-types.ts';
import type { Queryable } from '../store/database.ts';
import { agentCooldowns, agents, taskAttempts, tasks } from '../store/schema.ts';

/** Queries behind the agent pool. Each takes the database or a transaction to run on. */

export type AgentRow = typeof agents.$inferSelect;
export type NewAgentRow = typeof agents.$inferInsert;
export type CooldownRow = typeof agentCooldowns.$inferSelect;

/** Inserts or refreshes an agent's definition, keeping its state, warnings and quota reset. */
export async function upsertAgent(q: Queryable, row: NewAgentRow): Promise<void> {
  await q
    .insert(agents)
    .values(row)
    .onConflictDoUpdate({
      target: agents.id,
      set: {
        cli: row.cli,
        credentialClass: row.credentialClass,
        credentialSecret: row.credentialSecret,
        credentialFingerprint: row.credentialFingerprint,
        owner: row.owner ?? null,
        definition: row.definition,
        updatedAt: row.updatedAt,
      },
    });
}

/** Each agent's id and state, for health checks (no credential, no limits). */
export async function agentStates(q: Queryable): Promise<Array<{ id: string; state: string }>> {
  return q.select({ id: agents.id, state: agents.state }).from(agents).orderBy(agents.id);
}

/** Every agent, or only the one with id `onlyId`. */
export async function listAgentRows(q: Queryable, onlyId?: string): Promise<AgentRow[]> {
  return q
    .select()
    .from(agents)
    .where(onlyId === undefined ? undefined : eq(agents.id, onlyId))
    .orderBy(agents.id);
}

export async function updateAgent(
  q: Queryable,
  id: string,
  patch: Partial<NewAgentRow>,
): Promise<AgentRow | undefined> {
  const [row] = await q.update(agents).set(patch).where(eq(agents.id, id)).returning();
  return row;
}

/**
 * Agent sessions running (attempts not yet ended) per agent, across every worker. The items of a
 * batch that ride in another attempt's session take no slot of their own.
 */
/** Attempts running now, by agent (or only `onlyId`'s). */
export async function runningByAgent(q: Queryable, onlyId?: string): Promise<Map<string, number>> {
  const rows = await q
    .select({ agentId: taskAttempts.agentId, count: sql<number>`count(*)::int` })
    .from(taskAttempts)
    .where(
      and(
        isNull(taskAttempts.endedAt),
        onlyId === undefined ? isNotNull(taskAttempts.agentId) : eq(taskAttempts.agentId, onlyId),
        isNull(taskAttempts.batchLeadAttemptId),
      ),
    )
    .groupBy(taskAttempts.agentId);
  return new Map(rows.map((row) => [row.agentId!, row.count]));
}

export interface WindowUsage {
  usage: Usage;
  oldest?: Date;
}

/**
 * One metric of an attempt as quota sees it: what it used, or while it runs, what admission
 * expected it to use if that is more (so concurrent admissions cannot overbook a window). What a
 * running attempt has used is recorded as it happens, so a lost attempt keeps its charge.
 */
function charged(used: SQL, metric: 'requests' | 'tokens' | 'usd'): SQL {
  const estimate = sql`coalesce((${taskAttempts.admission}->'estimate'->>${metric})::float8, 0)`;
  return sql`case when ${taskAttempts.endedAt} is null then greatest(${estimate}, ${used}) else ${used} end`;
}

/** Use by one agent since each of `starts` (see `charged`). */
export async function usageSince(q: Queryable, agentId: string, starts: Date[]): Promise<WindowUsage[]> {
  if (starts.length === 0) return [];
  const earliest = new Date(Math.min(...starts.map((start) => start.getTime())));
  const requests = charged(sql`${taskAttempts.apiRequests}`, 'requests');
  const tokens = charged(
    sql`(${taskAttempts.inputTokens} + ${taskAttempts.outputTokens} + ${taskAttempts.cacheReadTokens} + ${taskAttempts.cacheWriteTokens})`,
    'tokens',
  );
  const usd = charged(sql`${taskAttempts.costUsd}`, 'usd');
  const columns = starts.flatMap((start, i) => [
    sql`coalesce(sum(${requests}) filter (where ${taskAttempts.startedAt} >= ${start}), 0)::float8 as ${sql.raw(`r${i}`)}`,
    sql`coalesce(sum(${tokens}) filter (where ${taskAttempts.startedAt} >= ${start}), 0)::float8 as ${sql.raw(`t${i}`)}`,
    sql`coalesce(sum(${usd}) filter (where ${taskAttempts.startedAt} >= ${start}), 0)::float8 as ${sql.raw(`u${i}`)}`,
    sql`min(${taskAttempts.startedAt}) filter (where ${taskAttempts.startedAt} >= ${start}) as ${sql.raw(`o${i}`)}`,
  ]);
  const result = (await q.execute(
    sql`select ${sql.join(columns, sql`, `)} from ${taskAttempts} where ${taskAttempts.agentId} = ${agentId} and ${taskAttempts.startedAt} >= ${earliest}`,
  )) as unknown as { rows: Array<Record<string, unknown>> };
  const row = result.rows[0] ?? {};
  return starts.map((_, i) => {
    const oldest = row[`o${i}`];
    return {
      usage: {
        requests: Number(row[`r${i}`] ?? 0),
        tokens: Number(row[`t${i}`] ?? 0),
        usd: Number(row[`u${i}`] ?? 0),
      },
      ...(oldest ? { oldest: new Date(oldest as string | Date) } : {}),
    };
  });
}

export async function activeCooldowns(q: Queryable, now: Date, onlyId?: string): Promise<CooldownRow[]> {
  return q
    .select()
    .from(agentCooldowns)
    .where(
      and(
        gt(agentCooldowns.until, now),
        onlyId === undefined ? undefined : eq(agentCooldowns.agentId, onlyId),
      ),
    );
}

/** Records a cooldown; an existing one for the same agent and model is only ever extended. */
export async function setCooldown(q: Queryable, row: typeof agentCooldowns.$inferInsert): Promise<void> {
  await q
    .insert(agentCooldowns)
    .values(row)
    .onConflictDoUpdate({
      target: [agentCooldowns.agentId, agentCooldowns.model],
      set: {
        until: sql`greatest(${agentCooldowns.until}, excluded.until)`,
        reason: sql`excluded.reason`,
        createdAt: sql`excluded.created_at`,
      },
    });
}

export async function clearCooldowns(q: Queryable, agentId: string): Promise<void> {
  await q.delete(agentCooldowns).where(eq(agentCooldowns.agentId, agentId));
}

/** Average use of recent successful attempts of a task type, optionally in one repository. */
export async function historyAverage(
  q: Queryable,
  type: TaskType,
  repository?: string,
): Promise<HistoryAverage> {
  const recent = q
    .select({
      requests: taskAttempts.apiRequests,
      tokens:
        sql<number>`(${taskAttempts.inputTokens} + ${taskAttempts.outputTokens} + ${taskAttempts.cacheReadTokens} + ${taskAttempts.cacheWriteTokens})`.as(
          'tokens',
        ),
      usd: taskAttempts.costUsd,
    })
    .from(taskAttempts)
    .innerJoin(tasks, eq(tasks.id, taskAttempts.taskId))
    .where(
      and(
        eq(tasks.type, type),
        eq(taskAttempts.outcome, 'succeeded'),
        repository ? eq(tasks.repository, repository) : undefined,
      ),
    )
    .orderBy(desc(taskAttempts.startedAt))
    .limit(20)
    .as('recent');
  const [row] = await q
    .select({
      samples: sql<number>`count(*)::int`,
      requests: sql<number>`coalesce(avg(${recent.requests}), 0)::float8`,
      tokens: sql<number>`coalesce(avg(${recent.tokens}), 0)::float8`,
      usd: sql<number>`coalesce(avg(${recent.usd}), 0)::float8`,
    })
    .from(recent);
  return {
    samples: Number(row?.samples ?? 0),
    usage: {
      requests: Number(row?.requests ?? 0),
      tokens: Number(row?.tokens ?? 0),
      usd: Number(row?.usd ?? 0),
    },
  };
}

/** Dollars spent on a repository's tasks since `since` (see `charged`). */
export async function repositorySpendSince(q: Queryable, repository: string, since: Date): Promise<number> {
  const [row] = await q
    .select({
      usd: sql<number>`coalesce(sum(${charged(sql`${taskAttempts.costUsd}`, 'usd')}), 0)::float8`,
    })
    .from(taskAttempts)
    .innerJoin(tasks, eq(tasks.id, taskAttempts.taskId))
    .where(and(eq(tasks.repository, repository), gt(taskAttempts.startedAt, since)));
  return Number(row?.usd ?? 0);
}

/**
 * Tasks waiting for an agent (parked, or queued for a free slot), most urgent first, oldest first
 * among equals.
 */
export async function waitingTaskIds(
  q: Queryable,
  limit: number,
  reasons: readonly WaitReason[] = WAIT_REASONS,
): Promise<string[]> {
  const rows = await q
    .select({ id: tasks.id })
    .from(tasks)
    .where(
      and(inArray(tasks.parkReason, [...reasons]), inArray(tasks.status, ['queued', 'retrying', 'parked'])),
    )
    .orderBy(desc(tasks.priority), tasks.createdAt)
    .limit(limit);
  return rows.map((row) => row.id);
}

/**
 * The latest agent session a task opened of its own, with the agent (and driver) that last ran it and every
 * attempt that ran it, newest first (each attempt keeps its own copy of the transcript). A session
 * shared with other tasks (a batch) is left out: resuming it would carry the other items into this
 * task's retry, which runs alone.
 */
export async function lastSession(
  q: Queryable,
  taskId: string,
): Promise<{ sessionId: string; agentId: string | null; driver: string; attemptIds: string[] } | undefined> {
  const rows = await q
    .select({
      sessionId: taskAttempts.sessionId,
      agentId: taskAttempts.agentId,
      driver: taskAttempts.driver,
      attemptId: taskAttempts.id,
    })
    .from(taskAttempts)
    .where(
      and(
        eq(taskAttempts.taskId, taskId),
        isNotNull(taskAttempts.sessionId),
        sql`not exists (select 1 from task_attempts shared where shared.session_id = ${taskAttempts.sessionId} and shared.task_id <> ${taskAttempts.taskId})`,
      ),
    )
    .orderBy(desc(taskAttempts.number));
  const latest = rows[0];
  if (!latest?.sessionId) return undefined;
  return {
    sessionId: latest.sessionId,
    agentId: latest.agentId,
    driver: latest.driver,
    attemptIds: rows.filter((row) => row.sessionId === latest.sessionId).map((row) => row.attemptId),
  };
}
