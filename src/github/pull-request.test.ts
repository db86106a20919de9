import { describe, expect, it } from 'vitest';
import { pullRequestText, pushedChangeOf } from './pull-request.ts';

const change = {
  pushed: { branch: 'supervisor/fix-7-comment-1', commit: 'c'.repeat(40) },
  commits: [{ sha: 'a'.repeat(40), subject: 'supervisor: BUG_FIX' }],
  files_changed: 1,
  insertions: 2,
  deletions: 1,
};

describe('pull requests of change tasks', () => {
  it('reads the pushed change from a result, and nothing from one that pushed none', () => {
    expect(pushedChangeOf({ workspace: { ...change, diff: 'x' } })).toEqual(change);
    const { pushed: _, ...unpushed } = change;
    expect(pushedChangeOf({ workspace: unpushed })).toBeUndefined();
    expect(pushedChangeOf(null)).toBeUndefined();
  });

  it('names the issue, links it, and quotes the agent without pinging anyone', () => {
    const { title, body } = pullRequestText({
      type: 'BUG_FIX',
      taskId: 't-1',
      issueNumber: 7,
      issueTitle: 'add() subtracts',
      summary: 'Fixed. cc @alice, mail bob@example.com',
      change,
      costUsd: 0.0123,
      taskUrl: 'https://supervisor.example/#/tasks/t-1',
    });
    expect(title).toBe('Fix #7: add() subtracts');
    expect(body).toContain('Fixes #7.');
    expect(body).toContain('Fixed. cc @\u200balice, mail bob@\u200bexample.com');
    expect(body).toContain('1 file changed, +2 −1');
    expect(body).toContain('- aaaaaaa supervisor: BUG_FIX');
    expect(body).toContain('Cost: $0.0123 · [task t-1](https://supervisor.example/#/tasks/t-1)');
  });

  it('keeps titles within what GitHub takes and lists at most 20 commits', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ sha: `${i}`.padStart(40, '0'), subject: `c${i}` }));
    const { title, body } = pullRequestText({
      type: 'FEATURE',
      taskId: 't-2',
      issueNumber: 8,
      issueTitle: 'x'.repeat(400),
      change: { ...change, commits: many },
      costUsd: 0,
    });
    expect(title).toHaveLength(256);
    expect(title.startsWith('Implement #8: ')).toBe(true);
    expect(body).toContain('- … and 5 more');
    expect(body).not.toContain('c20');
  });
});
