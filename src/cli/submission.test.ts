import { describe, expect, it } from 'vitest';
import { ExitError } from './exit.ts';
import { buildSubmission } from './submission.ts';

const files: Record<string, string> = {
  'task.json': JSON.stringify({
    type: 'PR_REVIEW',
    payload: { repository: 'o/r', title: 'T', diff: 'd' },
    priority: 3,
  }),
  'patch.diff': '--- a/x\n+++ b/x\n',
};
const read = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`no ${path}`);
  return text;
};

describe('buildSubmission', () => {
  it('builds from flags', () => {
    const submission = buildSubmission(
      {
        type: 'pr_review',
        repository: 'o/r',
        title: 'Fix',
        diff: 'patch.diff',
        priority: '8',
        prNumber: '12',
      },
      read,
    );
    expect(submission).toMatchObject({
      type: 'PR_REVIEW',
      priority: 8,
      payload: { repository: 'o/r', title: 'Fix', diff: files['patch.diff'], pr_number: 12 },
    });
  });

  it('passes dependencies, dedupe and batch, and names a malformed dependency', () => {
    const id = '0b9c7a4e-57a4-4cf3-9d7e-0c0f6f1d2a11';
    expect(
      buildSubmission(
        {
          type: 'ISSUE_SUMMARY',
          repository: 'o/r',
          title: 'T',
          body: 'b',
          dependsOn: [id],
          dedupe: true,
          batch: true,
        },
        read,
      ),
    ).toMatchObject({ depends_on: [id], dedupe: true, batch: true });
    expect(() =>
      buildSubmission({ type: 'BUG_FIX', repository: 'o/r', description: 'd', dependsOn: ['nope'] }, read),
    ).toThrow(/depends_on\.0:/);
  });

  it('passes the preferred agent CLI, and names an unknown one', () => {
    const flags = { type: 'BUG_FIX', repository: 'o/r', description: 'd' };
    expect(buildSubmission({ ...flags, agentCli: 'gemini' }, read)).toMatchObject({ agent_cli: 'gemini' });
    expect(() => buildSubmission({ ...flags, agentCli: 'cursor' }, read)).toThrow(
      /agent_cli: expected one of claude-code, codex, gemini/,
    );
  });

  it('lets flags override a file', () => {
    expect(buildSubmission({ file: 'task.json', priority: '9' }, read)).toMatchObject({
      type: 'PR_REVIEW',
      priority: 9,
    });
  });

  it('names the bad field and exits 2', () => {
    const attempt = () => buildSubmission({ type: 'BUG_FIX', repository: 'o/r', priority: '12' }, read);
    expect(attempt).toThrowError(ExitError);
    expect(attempt).toThrowError(/payload\.description: .*\n.*priority: Too big/s);
    try {
      attempt();
    } catch (error) {
      expect((error as ExitError).code).toBe(2);
    }
    expect(() => buildSubmission({ type: 'BUG_FIX', priority: 'high' }, read)).toThrowError(
      '--priority: expected an integer, got "high"',
    );
    expect(() => buildSubmission({ repository: 'o/r' }, read)).toThrowError(/missing --type/);
  });
});
