import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../store/cursor.ts';
import { auditView, decodeAuditCursor, encodeAuditCursor } from './audit-query.ts';

describe('audit page cursors', () => {
  it.each([1, 42, Number.MAX_SAFE_INTEGER])('round-trip id %d', (id) => {
    expect(decodeAuditCursor(encodeAuditCursor(id))).toBe(id);
  });

  it.each([
    ['empty', ''],
    ['not base64url of ours', 'garbage'],
    [
      'a task listing cursor',
      encodeCursor({ createdAt: new Date(0), id: '0b0e6a39-6a6e-4c6e-9d4a-5c8e0f9d2a11' }),
    ],
    ['id 0', Buffer.from('audit:0').toString('base64url')],
    ['a negative id', Buffer.from('audit:-5').toString('base64url')],
    ['a leading zero', Buffer.from('audit:042').toString('base64url')],
    ['an id past 2^53', Buffer.from('audit:9007199254740993').toString('base64url')],
    ['trailing text', Buffer.from('audit:42 or 1=1').toString('base64url')],
  ])('rejects %s', (_name, cursor) => {
    expect(decodeAuditCursor(cursor)).toBeUndefined();
  });
});

describe('auditView', () => {
  it('shows a row with the API’s snake_case fields and an ISO time', () => {
    expect(
      auditView({
        id: 7,
        at: new Date('2026-01-02T03:04:05.678Z'),
        actor: 'alice',
        action: 'task.submitted',
        taskId: '0b0e6a39-6a6e-4c6e-9d4a-5c8e0f9d2a11',
        agentId: null,
        details: { priority: 5 },
        prevHash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      }),
    ).toEqual({
      id: 7,
      at: '2026-01-02T03:04:05.678Z',
      actor: 'alice',
      action: 'task.submitted',
      task_id: '0b0e6a39-6a6e-4c6e-9d4a-5c8e0f9d2a11',
      agent_id: null,
      details: { priority: 5 },
      prev_hash: 'a'.repeat(64),
      hash: 'b'.repeat(64),
    });
  });
});
