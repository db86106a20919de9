import { count, desc, gte, lt, lte, min } from 'drizzle-orm';
import type { Db } from '../store/database.ts';
import { auditLog } from '../store/schema.ts';
import { appendAudit, SEAL_BATCH, sealBatch } from './audit-log.ts';

/**
 * Retention: old audit records are deleted, and what remains still verifies.
 *
 * The chain starts at GENESIS_HASH. Once its oldest records are gone, the oldest remaining record
 * points back at a hash no one can recompute, which is exactly what a removed record looks like.
 * So pruning leaves an anchor: an `audit.pruned` record, appended to the chain like any other,
 * that names the last deleted record (`through_id`) and its hash (`through_hash`). Verification
 * accepts a first remaining record whose prev_hash is the `through_hash` of an `audit.pruned`
 * record at or after it (see audit-verify.ts).
 *
 * Why that is safe: the anchor is itself chained. Editing it breaks its hash; re-hashing it
 * breaks the prev_hash of the record after it. Deleting more of the oldest records by hand leaves a
 * first record that no anchor names. What no chain proves on its own is its newest end: whoever
 * can write to the database can append records, a forged anchor included. Keeping the last hash
 * `supervisor audit verify` prints somewhere else (a ticket, another system's log) closes that gap.
 *
 * Only a prefix of the chain is deleted: every record before the first one at or after the
 * cutoff. Record times come from each writer's clock, so they can be slightly out of id order;
 * deleting by time alone could cut a hole in the middle of the chain.
 */

export const PRUNED_ACTION = 'audit.pruned';

/** The details of an `audit.pruned` record (a type, not an interface, so it is a valid `details` object). */
export type PrunedDetails = {
  /** How many records were deleted. */
  removed: number;
  /** The last deleted record; every record up to it is gone. */
  through_id: number;
  /** Its hash: the prev_hash of the first record that remains. */
  through_hash: string;
};

/**
 * Deletes the records older than `olderThan` and appends the `audit.pruned` anchor, in one
 * transaction under the append lock, so no record is chained onto a half-pruned log. Returns what
 * was pruned, or `undefined` (and writes nothing) when no record is old enough.
 */
export async function pruneAudit(
  db: Db,
  olderThan: Date,
  now: Date = new Date(),
): Promise<PrunedDetails | undefined> {
  return db.transaction(async (tx) => {
    // What is pending is chained first, under the same lock (while batches come back full: writers
    // committing meanwhile cannot keep the lock held).
    while ((await sealBatch(tx)) === SEAL_BATCH);
    // The prefix to delete ends just before the first record at or after the cutoff, or at the
    // newest record when every record is older.
    const [firstKept] = await tx
      .select({ id: min(auditLog.id) })
      .from(auditLog)
      .where(gte(auditLog.at, olderThan));
    const [through] = await tx
      .select({ id: auditLog.id, hash: auditLog.hash })
      .from(auditLog)
      .where(firstKept?.id == null ? undefined : lt(auditLog.id, firstKept.id))
      .orderBy(desc(auditLog.id))
      .limit(1);
    if (!through) return undefined;
    const [deleted] = await tx.select({ n: count() }).from(auditLog).where(lte(auditLog.id, through.id));
    const details: PrunedDetails = {
      removed: deleted!.n,
      through_id: through.id,
      through_hash: through.hash,
    };
    // Appended before the delete, so it chains onto the newest record even when every record is
    // old enough to go: the chain then continues from the anchor instead of restarting at genesis.
    await appendAudit(tx, { at: now, actor: 'supervisor', action: PRUNED_ACTION, details });
    await sealBatch(tx);
    await tx.delete(auditLog).where(lte(auditLog.id, through.id));
    return details;
  });
}
