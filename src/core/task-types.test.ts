import { describe, expect, it } from 'vitest';
import { SEED_PR_REVIEW } from '../../test/support/seed.ts';
import { TASK_TYPES, taskSubmissionSchema } from './task-types.ts';

const seed = SEED_PR_REVIEW;

const issuesOf = (value: unknown) => {
  const result = taskSubmissionSchema.safeParse(value);
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('task submissions', () => {
  it('accepts the seed-style PR review as is', () => {
    const parsed = taskSubmissionSchema.parse(seed);
    expect(parsed).toMatchObject({ type: 'PR_REVIEW', priority: 8, payload: { pr_number: 123 } });
  });

  it('defaults the priority to 5', () => {
    expect(taskSubmissionSchema.parse({ ...seed, priority: undefined }).priority).toBe(5);
  });

  it.each([
    [
      'ISSUE_SUMMARY',
      { repository: 'o/r', title: 'Crash on start', body: 'Stack trace…', comments: ['me too'] },
    ],
    ['CODE_ANALYSIS', { repository: 'https://github.com/o/r.git', paths: ['src'], focus: 'security' }],
    ['REFACTOR', { repository: '/srv/repos/app', description: 'Extract a module', paths: ['src/a.ts'] }],
    [
      'BUG_FIX',
      {
        repository: 'git@github.com:o/r.git',
        description: 'Fix the crash',
        acceptance_criteria: ['no crash'],
      },
    ],
    ['FEATURE', { repository: 'file:///tmp/repo', description: 'Add dark mode' }],
  ])('accepts a %s payload', (type, payload) => {
    expect(issuesOf({ type, payload })).toEqual([]);
  });

  it('names each bad field', () => {
    expect(issuesOf({ ...seed, priority: 11 })).toEqual(['priority: Too big: expected number to be <=10']);
    expect(issuesOf({ ...seed, payload: { ...seed.payload, pr_number: 'x' } })).toEqual([
      'payload.pr_number: Invalid input: expected number, received string',
    ]);
    expect(issuesOf({ type: 'DEPLOY', payload: {} })[0]).toContain('type:');
    expect(issuesOf({ ...seed, payload: { ...seed.payload, tittle: 'typo' } })[0]).toContain('tittle');
  });

  it('needs something to review', () => {
    const { diff: _, ...withoutDiff } = seed.payload;
    expect(issuesOf({ ...seed, payload: withoutDiff })).toEqual([
      'payload.diff: give either diff or head_ref (with an optional base_ref) so there is something to review',
    ]);
    expect(issuesOf({ ...seed, payload: { ...withoutDiff, head_ref: 'feature/x' } })).toEqual([]);
  });

  it('refuses path traversal and option-like refs', () => {
    expect(
      issuesOf({ type: 'REFACTOR', payload: { repository: '/srv/../etc', description: 'x' } })[0],
    ).toContain('..');
    expect(
      issuesOf({ type: 'REFACTOR', payload: { repository: 'o/r', description: 'x', paths: ['../x'] } })[0],
    ).toContain('payload.paths.0');
    expect(
      issuesOf({ type: 'CODE_ANALYSIS', payload: { repository: 'o/r', ref: '--upload-pack=x' } })[0],
    ).toContain('payload.ref');
  });

  it('limits sizes', () => {
    const huge = 'x'.repeat(600_000);
    expect(issuesOf({ ...seed, payload: { ...seed.payload, diff: huge } })[0]).toContain('payload.diff');
  });

  it('knows six types', () => {
    expect(TASK_TYPES).toHaveLength(6);
  });
});
