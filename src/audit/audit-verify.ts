import { and, eq, gte, sql } from 'drizzle-orm';
import type { Db, Queryable } from '../store/database.ts';
import { auditLog } from '../store/schema.ts';
import { auditHash, GENESIS_HASH, sealAudit } from './audit-log.ts';
import { type AuditRow, chainPage } from './audit-query.ts';
import { PRUNED_ACTION, type PrunedDetails } from './audit-retention.ts';

export type VerifyResult =
  | {
      ok: true;
      checked: number;
      /** The newest record and its hash (`null` and GENESIS_HASH for an empty log). */
      lastId: number | null;
      lastHash: string;
      /** Set when older records were pruned: the chain starts after this record. */
      prunedThroughId: number | null;
    }
  | {
      ok: false;
      /** Records found intact before the broken one. */
      checked: number;
      brokenId: number;
      /** What is wrong, in words an operator can act on. */
      reason: string;
    };

/**
 * What the record being checked must point back to: the record before it, or, for the oldest
 * remaining record, where the chain starts (GENESIS_HASH, or the last hash of a recorded prune).
 */
export type Predecessor = { id: number; hash: string } | { start: string };

/** What is wrong with `row` as the successor of `before`, or `undefined` when nothing is. */
export function recordFault(row: AuditRow, before: Predecessor): string | undefined {
  // Contents first: a record edited in place (prev_hash included) is the one to name, not the
  // record after it.
  const recomputed = auditHash(row.prevHash, {
    at: row.at,
    actor: row.actor,
    action: row.action,
    taskId: row.taskId,
    agentId: row.agentId,
    details: row.details as Record<string, unknown>,
  });
  if (recomputed !== row.hash) {
    return `row ${row.id}: its hash does not match its contents (changed after it was written)`;
  }
  if ('start' in before) {
    return row.prevHash === before.start
      ? undefined
      : `row ${row.id}: prev_hash is neither the start of the chain nor the last hash of a recorded ${PRUNED_ACTION} (records before it were removed)`;
  }
  return row.prevHash === before.hash
    ? undefined
    : `row ${row.id}: prev_hash does not match row ${before.id}'s hash (a row before it was changed or removed)`;
}

/**
 * Where the chain must start for its oldest remaining record: GENESIS_HASH, unless a prune
 * recorded after it vouches for its prev_hash. The anchor is trusted here only provisionally: the
 * walk reaches it later and checks its hash and link like any other record's.
 */
async function chainStart(
  q: Queryable,
  first: AuditRow,
): Promise<{ hash: string; prunedThroughId: number | null }> {
  if (first.prevHash === GENESIS_HASH) return { hash: GENESIS_HASH, prunedThroughId: null };
  const [anchor] = await q
    .select({ details: auditLog.details })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.action, PRUNED_ACTION),
        gte(auditLog.id, first.id),
        sql`${auditLog.details}->>'through_hash' = ${first.prevHash}`,
      ),
    )
    .limit(1);
  return anchor
    ? { hash: first.prevHash, prunedThroughId: (anchor.details as PrunedDetails).through_id }
    : { hash: GENESIS_HASH, prunedThroughId: null };
}

/**
 * Walks the whole audit chain in id order, `pageSize` records at a time (memory stays flat however
 * long the log is), recomputing every hash and checking every link. Stops at the first broken
 * record. Runs in one read-only snapshot, so appends and prunes made meanwhile cannot make an
 * intact chain look broken.
 */
export async function verifyAudit(db: Db, options: { pageSize?: number } = {}): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 1000;
  // Records still pending are chained first. A database that refuses (a read-only role, a standby)
  // is still verified: its chained records are what the chain covers.
  await sealAudit(db).catch(() => undefined);
  return db.transaction(
    async (tx) => {
      let checked = 0;
      let before: Predecessor | undefined;
      let prunedThroughId: number | null = null;
      for (let afterId = 0; ; ) {
        const rows = await chainPage(tx, afterId, pageSize);
        for (const row of rows) {
          if (!before) {
            const start = await chainStart(tx, row);
            before = { start: start.hash };
            prunedThroughId = start.prunedThroughId;
          }
          const fault = recordFault(row, before);
          if (fault) return { ok: false, checked, brokenId: row.id, reason: fault };
          checked++;
          before = { id: row.id, hash: row.hash };
        }
        if (rows.length < pageSize) break;
        afterId = rows.at(-1)!.id;
      }
      return before && 'id' in before
        ? { ok: true, checked, lastId: before.id, lastHash: before.hash, prunedThroughId }
        : { ok: true, checked, lastId: null, lastHash: GENESIS_HASH, prunedThroughId };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
