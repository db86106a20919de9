import { describe, expect, it } from 'vitest';
import { changedFiles, MAX_MEMORY_CONTENT_CHARS, memoryFromTask } from './task-memory.ts';

const finding = (file: string | undefined, title: string) => ({
  severity: 'major',
  category: 'security',
  ...(file ? { file } : {}),
  line: 3,
  title,
  detail: `${title} in detail`,
});

describe('memoryFromTask', () => {
  it('turns an analysis into an entry citing the files of its findings', () => {
    const draft = memoryFromTask({
      type: 'CODE_ANALYSIS',
      payload: { repository: 'acme/api', paths: ['src'] },
      result: {
        structured_output: {
          summary: 'Two problems.',
          findings: [
            finding('./src/auth.ts', 'Weak hash'),
            finding('src/auth.ts:12', 'Again'),
            finding(undefined, 'Vague'),
          ],
        },
      },
      resultText: null,
    });
    expect(draft).toEqual({
      kind: 'analysis',
      title: 'Analysis of src',
      paths: ['src/auth.ts'],
      content: [
        'Two problems.',
        '- [major, security] ./src/auth.ts:3 Weak hash: Weak hash in detail',
        '- [major, security] src/auth.ts:12:3 Again: Again in detail',
        '- [major, security] Vague: Vague in detail',
      ].join('\n'),
    });
  });

  it('keeps no path that could point outside the repository', () => {
    const draft = memoryFromTask({
      type: 'PR_REVIEW',
      payload: { repository: 'acme/api', title: 'Fix', diff: 'd' },
      result: {
        structured_output: {
          summary: 's',
          verdict: 'approve',
          findings: [finding('/etc/passwd', 'a'), finding('../up.ts', 'b'), finding('ok.ts', 'c')],
        },
      },
      resultText: null,
    });
    expect(draft?.paths).toEqual(['ok.ts']);
    expect(draft?.title).toBe('Review of PR: Fix');
    expect(draft?.content.startsWith('Verdict: approve.\ns\n')).toBe(true);
  });

  it('summarises an issue with its next steps and open questions', () => {
    const draft = memoryFromTask({
      type: 'ISSUE_SUMMARY',
      payload: { repository: 'acme/api', issue_number: 7, title: 'Login slow', body: 'b' },
      result: {
        structured_output: {
          summary: 'Logins take 5 s.',
          category: 'bug',
          next_steps: ['Profile'],
          open_questions: ['Which region?'],
        },
      },
      resultText: null,
    });
    expect(draft).toEqual({
      kind: 'issue_summary',
      title: 'Issue #7: Login slow',
      paths: [],
      content: 'Category: bug.\nLogins take 5 s.\n- Next: Profile\n- Open question: Which region?',
    });
  });

  it('records what a change did and which files it touched', () => {
    const diff = 'diff --git a/lib/a.ts b/lib/a.ts\n--- a/lib/a.ts\n+++ b/lib/a.ts\n@@ -1 +1 @@\n-1\n+2\n';
    const draft = memoryFromTask({
      type: 'BUG_FIX',
      payload: { repository: 'acme/api', description: 'Off by one in a()\nMore text.' },
      result: { workspace: { diff, head_commit: 'f'.repeat(40) } },
      resultText: 'Fixed the bound.',
    });
    expect(draft).toEqual({
      commit: 'f'.repeat(40),
      kind: 'change',
      title: 'BUG_FIX: Off by one in a()',
      paths: ['lib/a.ts'],
      content: 'Fixed the bound.\nFiles changed: lib/a.ts.',
    });
  });

  it('leaves nothing for a read-only task without structured output', () => {
    expect(
      memoryFromTask({
        type: 'CODE_ANALYSIS',
        payload: { repository: 'acme/api' },
        result: null,
        resultText: 'hi',
      }),
    ).toBeUndefined();
  });

  it('clips long content to the entry limit', () => {
    const draft = memoryFromTask({
      type: 'FEATURE',
      payload: { repository: 'acme/api', description: 'Big' },
      result: null,
      resultText: 'x'.repeat(MAX_MEMORY_CONTENT_CHARS * 2),
    });
    expect(draft?.content).toHaveLength(MAX_MEMORY_CONTENT_CHARS);
    expect(draft?.content.endsWith('…')).toBe(true);
  });
});

describe('changedFiles', () => {
  it('lists both sides of renames once', () => {
    const diff = 'diff --git a/old.ts b/new.ts\nrename from old.ts\ndiff --git a/x.ts b/x.ts\n';
    expect(changedFiles(diff)).toEqual(['old.ts', 'new.ts', 'x.ts']);
  });
});
