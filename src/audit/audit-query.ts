import { and, asc, desc, eq, gt, gte, inArray, lt } from 'drizzle-orm';
import type { Queryable } from '../store/database.ts';
import { auditLog } from '../store/schema.ts';

/**
 * Reading the audit log: the newest-first listing behind `GET /api/v1/audit-logs`, and the
 * oldest-first walk in chain order that verification and export share. Pages are keyed by id, the
 * order records were appended in (appends are serialised), so a page never skips or repeats a
 * record even while new ones arrive.
 */

export type AuditRow = typeof auditLog.$inferSelect;

/** What a listing can be narrowed to; every filter given must match. */
export interface AuditFilters {
  actor?: string;
  taskId?: string;
  agentId?: string;
  /** Any one of these actions (`task.submitted`, `token.revoked`, …). */
  actions?: string[];
  /** Records at or after this time. */
  from?: Date;
  /** Records before this time. */
  to?: Date;
}

/** One record as the API and `supervisor audit export` show it: snake_case, times in ISO 8601. */
export interface AuditRecordView {
  id: number;
  at: string;
  actor: string;
  action: string;
  task_id: string | null;
  agent_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export function auditView(row: AuditRow): AuditRecordView {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actor: row.actor,
    action: row.action,
    task_id: row.taskId,
    agent_id: row.agentId,
    details: row.details as Record<string, unknown>,
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

// The prefix keeps a task listing's cursor (or any other base64url text) from passing as ours.
const CURSOR_PREFIX = 'audit:';

/** An opaque cursor naming the last record of a page. */
export function encodeAuditCursor(id: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`).toString('base64url');
}

/** The record id a cursor names, or `undefined` if it is not one this server made. */
export function decodeAuditCursor(cursor: string): number | undefined {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const digits = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length) : '';
  if (!/^[1-9]\d{0,15}$/.test(digits)) return undefined;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : undefined;
}

function conditions(filters: AuditFilters) {
  return [
    filters.actor === undefined ? undefined : eq(auditLog.actor, filters.actor),
    filters.taskId === undefined ? undefined : eq(auditLog.taskId, filters.taskId),
    filters.agentId === undefined ? undefined : eq(auditLog.agentId, filters.agentId),
    filters.actions?.length ? inArray(auditLog.action, filters.actions) : undefined,
    filters.from ? gte(auditLog.at, filters.from) : undefined,
    filters.to ? lt(auditLog.at, filters.to) : undefined,
  ];
}

/**
 * One page of records matching `filters`, newest first, starting below the id `before` (the
 * previous page's cursor). `next` is set when another page follows.
 */
export async function listAudit(
  q: Queryable,
  filters: AuditFilters,
  page: { limit: number; before?: number },
): Promise<{ items: AuditRow[]; next?: number }> {
  // One row more than asked tells whether another page exists without a count query.
  const rows = await q
    .select()
    .from(auditLog)
    .where(and(...conditions(filters), page.before === undefined ? undefined : lt(auditLog.id, page.before)))
    .orderBy(desc(auditLog.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return rows.length > page.limit && last ? { items, next: last.id } : { items };
}

/**
 * Up to `limit` records after the id `afterId`, in chain order (oldest first), optionally only
 * those in a time range. Callers walk the whole log with it one page at a time.
 */
export async function chainPage(
  q: Queryable,
  afterId: number,
  limit: number,
  range: Pick<AuditFilters, 'from' | 'to'> = {},
): Promise<AuditRow[]> {
  return q
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.id, afterId), ...conditions(range)))
    .orderBy(asc(auditLog.id))
    .limit(limit);
}
