import { describe, expect, it } from 'vitest';
import { taskFingerprint } from './fingerprint.ts';
import type { TaskPayload } from './task-types.ts';

const review = (extra: Record<string, unknown> = {}) =>
  ({
    repository: 'owner/repo',
    title: 'Add token refresh',
    diff: '--- a/auth.py\n+++ b/auth.py\n@@ -1 +1 @@\n-token = old()\n+token = refresh()\n',
    ...extra,
  }) as TaskPayload;

describe('taskFingerprint', () => {
  it('is a SHA-256 hex digest that ignores key order', () => {
    const fingerprint = taskFingerprint('PR_REVIEW', review());
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(review()).reverse()) as TaskPayload;
    expect(taskFingerprint('PR_REVIEW', reordered)).toBe(fingerprint);
  });

  it('treats CRLF and LF line endings as the same text, in nested strings too', () => {
    const lf = review({ description: 'one\ntwo', comments: undefined });
    const crlf = review({
      description: 'one\r\ntwo',
      diff: (review() as { diff: string }).diff.replaceAll('\n', '\r\n'),
    });
    expect(taskFingerprint('PR_REVIEW', crlf)).toBe(taskFingerprint('PR_REVIEW', lf));
    const issue = (comments: string[]) =>
      taskFingerprint('ISSUE_SUMMARY', { repository: 'o/r', title: 't', body: 'b', comments });
    expect(issue(['a\r\nb'])).toBe(issue(['a\nb']));
  });

  it('keeps every other difference: diff content, whitespace, type, repository and refs', () => {
    const base = taskFingerprint('PR_REVIEW', review());
    const others = [
      taskFingerprint('PR_REVIEW', review({ diff: '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n' })),
      taskFingerprint('PR_REVIEW', review({ diff: `${(review() as { diff: string }).diff} ` })),
      taskFingerprint('PR_REVIEW', review({ title: 'Add token refresh ' })),
      taskFingerprint('PR_REVIEW', review({ repository: 'owner/other' })),
      taskFingerprint('PR_REVIEW', review({ head_ref: 'feature' })),
      taskFingerprint('PR_REVIEW', review({ head_ref: 'feature', base_ref: 'main' })),
      taskFingerprint('CODE_ANALYSIS', review()),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });
});
