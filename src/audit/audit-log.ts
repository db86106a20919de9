import { createHash } from 'node:crypto';
import { desc, sql } from 'drizzle-orm';
import { canonicalJson } from '../core/canonical-json.ts';
import type { Queryable } from '../store/database.ts';
import { auditLog } from '../store/schema.ts';

/** The hash the first record of the chain points back to. */
export const GENESIS_HASH = '0'.repeat(64);
/** Serialises appends so two writers never chain onto the same previous record. */
export const AUDIT_LOCK_KEY = 7_020_424_612;

export interface AuditEntry {
  at: Date;
  actor: string;
  action: string;
  taskId?: string | null;
  agentId?: string | null;
  /** Facts about the action. Never secrets: callers pass ids, names and outcomes, not credentials. */
  details?: Record<string, unknown>;
}

/** The hash of a record: it covers the previous hash and every field, so any edit breaks the chain. */
export function auditHash(prevHash: string, entry: AuditEntry): string {
  const body = canonicalJson({
    prevHash,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    taskId: entry.taskId ?? null,
    agentId: entry.agentId ?? null,
    details: entry.details ?? {},
  });
  return createHash('sha256').update(body).digest('hex');
}

/** Appends one record to the chain. Call inside the transaction that performs the action. */
export async function appendAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
  const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
  const prevHash = last?.hash ?? GENESIS_HASH;
  await tx.insert(auditLog).values({
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    taskId: entry.taskId ?? null,
    agentId: entry.agentId ?? null,
    details: entry.details ?? {},
    prevHash,
    hash: auditHash(prevHash, entry),
  });
}
