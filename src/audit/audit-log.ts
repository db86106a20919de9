import { createHash } from 'node:crypto';
import { asc, desc, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { canonicalJson } from '../core/canonical-json.ts';
import type { Db, Queryable } from '../store/database.ts';
import { auditLog, auditPending } from '../store/schema.ts';

/** The hash the first record of the chain points back to. */
export const GENESIS_HASH = '0'.repeat(64);
/** Serialises sealing (and pruning) so two sealers never chain onto the same previous record. */
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

/**
 * Records an action. Call inside the transaction that performs it: the record commits or rolls
 * back with the action. It waits for no other writer: it is chained by the next `sealAudit`.
 */
export async function appendAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  await tx.insert(auditPending).values({
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    taskId: entry.taskId ?? null,
    agentId: entry.agentId ?? null,
    details: entry.details ?? {},
  });
}

/** Records chained per sealing transaction: each one stays short. */
export const SEAL_BATCH = 500;

/**
 * Chains the records written so far onto the audit log, in the order they were written, and
 * returns how many. Only the sealer holds the chain's lock, so appending never serialises the
 * cluster's transactions; every process seals every AUDIT_SEAL_INTERVAL_MS, and readers of the
 * log (listing, export, verification, notifications, pruning) seal first.
 */
export async function sealAudit(db: Db): Promise<number> {
  let sealed = 0;
  for (let batch = SEAL_BATCH; batch === SEAL_BATCH; sealed += batch) {
    // Read committed: after the lock, each statement must see what the previous sealer committed.
    batch = await db.transaction(async (tx) => sealBatch(tx), { isolationLevel: 'read committed' });
  }
  return sealed;
}

/** One batch of `sealAudit`, inside the caller's transaction (pruning seals within its own). */
export async function sealBatch(tx: Queryable): Promise<number> {
  await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
  const pending = await tx.select().from(auditPending).orderBy(asc(auditPending.id)).limit(SEAL_BATCH);
  if (pending.length === 0) return 0;
  const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
  let prevHash = last?.hash ?? GENESIS_HASH;
  const rows = pending.map(({ id: _pendingId, ...record }) => {
    const entry = { ...record, details: record.details as Record<string, unknown> };
    const row = { ...entry, prevHash, hash: auditHash(prevHash, entry) };
    prevHash = row.hash;
    return row;
  });
  // Inserted in one statement, in order: ids follow the chain. PostgreSQL assigns them in VALUES
  // order; were it ever not to, this seal is refused (rolled back) rather than recorded out of order.
  const ids = (await tx.insert(auditLog).values(rows).returning({ id: auditLog.id })).map((row) => row.id);
  if (ids.some((id, i) => i > 0 && id <= ids[i - 1]!)) {
    throw new Error('audit records were given ids out of chain order; sealing refused');
  }
  // By id, not by range: a record committed meanwhile below the last id was not read, so it stays.
  await tx.delete(auditPending).where(
    inArray(
      auditPending.id,
      pending.map((record) => record.id),
    ),
  );
  return pending.length;
}

/** How often each process chains the records written since the last time. */
export const AUDIT_SEAL_INTERVAL_MS = 1000;

/**
 * Seals every `intervalMs` until stopped; stopping seals once more, so a drained process leaves
 * nothing unchained. A failed seal (the database away) is logged and tried again next time.
 */
export function startAuditSealer(
  db: Db,
  logger: Logger,
  intervalMs: number = AUDIT_SEAL_INTERVAL_MS,
): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  // A tick while a seal still runs (behind a prune, or the database away) is skipped, not queued.
  const seal = () => {
    running ??= sealAudit(db)
      .catch((error: unknown) => logger.warn({ err: error }, 'sealing audit records failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(seal, intervalMs).unref();
  return async () => {
    clearInterval(timer);
    await running;
    await seal();
  };
}
