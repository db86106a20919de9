import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../core/canonical-json.ts';
import { auditHash, GENESIS_HASH } from './audit-log.ts';

const entry = {
  at: new Date('2026-01-01T00:00:00Z'),
  actor: 'alice',
  action: 'task.submitted',
  taskId: null,
  details: { b: 1, a: 2 },
};

describe('audit hash chain', () => {
  it('is stable regardless of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":1}');
    expect(auditHash(GENESIS_HASH, entry)).toBe(
      auditHash(GENESIS_HASH, { ...entry, details: { a: 2, b: 1 } }),
    );
  });

  it('changes with any field and with the previous hash', () => {
    const base = auditHash(GENESIS_HASH, entry);
    expect(auditHash(GENESIS_HASH, { ...entry, actor: 'mallory' })).not.toBe(base);
    expect(auditHash(GENESIS_HASH, { ...entry, details: { a: 3, b: 1 } })).not.toBe(base);
    expect(auditHash('f'.repeat(64), entry)).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });
});
