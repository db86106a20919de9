import { describe, expect, it } from 'vitest';
import { TASK_TOKEN_PREFIX, TaskTokens } from './task-token.ts';

const scope = {
  taskId: '0b9c7a4e-57a4-4cf3-9d7e-0c0f6f1d2a11',
  attemptId: '5d1f0c9e-3b7a-4e52-8a61-2f9c4d7e8b10',
  repository: 'acme/api',
  commit: 'a'.repeat(40),
};
const now = new Date('2026-11-24T12:00:00Z');
const later = new Date('2026-11-24T13:00:00Z');

describe('task tokens', () => {
  const tokens = new TaskTokens('a secrets key of some length');

  it('round-trips the scope until it expires', () => {
    const token = tokens.issue(scope, later);
    expect(token.startsWith(TASK_TOKEN_PREFIX)).toBe(true);
    expect(tokens.verify(token, now)).toEqual({ ok: true, scope });
    expect(tokens.verify(token, later)).toEqual({ ok: false, reason: 'the task token has expired' });
  });

  it('refuses a token signed with another key', () => {
    const other = new TaskTokens('another secrets key entirely').issue(scope, later);
    expect(tokens.verify(other, now)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not issued'),
    });
  });

  it('refuses claims changed after signing (another repository)', () => {
    const token = tokens.issue(scope, later);
    const [claims, signature] = token.slice(TASK_TOKEN_PREFIX.length).split('.');
    const decoded = JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...decoded, repository: 'acme/other' })).toString(
      'base64url',
    );
    expect(tokens.verify(`${TASK_TOKEN_PREFIX}${forged}.${signature}`, now).ok).toBe(false);
  });

  it('refuses garbage without throwing', () => {
    for (const token of ['svt_', 'svt_abc', 'svt_abc.def', `svt_${'x'.repeat(500)}.y`]) {
      expect(tokens.verify(token, now).ok).toBe(false);
    }
  });
});
