import { describe, expect, it } from 'vitest';
import { type AuditEntry, auditHash, GENESIS_HASH } from './audit-log.ts';
import type { AuditRow } from './audit-query.ts';
import { recordFault } from './audit-verify.ts';

/** A chain of rows as appendAudit writes them. */
function chain(count: number, startHash = GENESIS_HASH): AuditRow[] {
  const rows: AuditRow[] = [];
  let prevHash = startHash;
  for (let id = 1; id <= count; id++) {
    const entry: AuditEntry = {
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, id)),
      actor: 'alice',
      action: 'task.submitted',
      taskId: null,
      agentId: id % 2 ? 'agent-1' : null,
      details: { n: id },
    };
    const hash = auditHash(prevHash, entry);
    rows.push({
      id,
      at: entry.at,
      actor: entry.actor,
      action: entry.action,
      taskId: null,
      agentId: entry.agentId ?? null,
      details: entry.details,
      prevHash,
      hash,
    });
    prevHash = hash;
  }
  return rows;
}

describe('recordFault', () => {
  const [first, second, third] = chain(3) as [AuditRow, AuditRow, AuditRow];

  it('accepts an intact chain from genesis', () => {
    expect(recordFault(first, { start: GENESIS_HASH })).toBeUndefined();
    expect(recordFault(second, first)).toBeUndefined();
    expect(recordFault(third, second)).toBeUndefined();
  });

  it.each([
    ['details', { details: { n: 99 } }],
    ['actor', { actor: 'mallory' }],
    ['action', { action: 'task.cancelled' }],
    ['time', { at: new Date(0) }],
    ['agent', { agentId: 'agent-2' }],
    ['hash', { hash: 'f'.repeat(64) }],
    ['prev_hash', { prevHash: 'f'.repeat(64) }],
  ])('names a row whose %s was changed as changed, not the link', (_field, change) => {
    expect(recordFault({ ...second, ...change }, first)).toBe(
      'row 2: its hash does not match its contents (changed after it was written)',
    );
  });

  it('names the row after a removed one by its broken link', () => {
    expect(recordFault(third, first)).toBe(
      "row 3: prev_hash does not match row 1's hash (a row before it was changed or removed)",
    );
  });

  it('accepts a pruned chain only from the start it was anchored at', () => {
    const pruned = chain(2, 'c'.repeat(64))[0]!;
    expect(recordFault(pruned, { start: 'c'.repeat(64) })).toBeUndefined();
    expect(recordFault(pruned, { start: GENESIS_HASH })).toBe(
      'row 1: prev_hash is neither the start of the chain nor the last hash of a recorded audit.pruned (records before it were removed)',
    );
  });
});
