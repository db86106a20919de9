import { describe, expect, it } from 'vitest';
import { commentableLines, findingKey, planCheckRun, planReview, type ReviewData } from './review.ts';

const DIFF = [
  'diff --git a/auth.py b/auth.py',
  'index 1111111..2222222 100644',
  '--- a/auth.py',
  '+++ b/auth.py',
  '@@ -1,4 +1,5 @@',
  ' import time',
  '-token = old()',
  '+token = refresh()',
  '+expires = time.time() + 60',
  ' ',
  ' def check():',
  '@@ -20,2 +21,3 @@ def later():',
  '     pass',
  '+    return None',
  ' # end',
  'diff --git a/gone.py b/gone.py',
  'deleted file mode 100644',
  '--- a/gone.py',
  '+++ /dev/null',
  '@@ -1 +0,0 @@',
  '-x = 1',
  'diff --git a/new.py b/new.py',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/new.py',
  '@@ -0,0 +1,2 @@',
  '+a = 1',
  '+b = 2',
  '\\ No newline at end of file',
].join('\n');

const review = (
  findings: ReviewData['findings'],
  verdict: ReviewData['verdict'] = 'comment',
): ReviewData => ({
  summary: 'Token refresh.',
  verdict,
  findings,
});

describe('GitHub review planning', () => {
  it('knows which new-side lines a comment can be placed on', () => {
    const lines = commentableLines(DIFF);
    expect([...lines.keys()]).toEqual(['auth.py', 'new.py']);
    expect([...lines.get('auth.py')!]).toEqual([1, 2, 3, 4, 5, 21, 22, 23]);
    expect([...lines.get('new.py')!]).toEqual([1, 2]);
  });

  it('puts findings on diff lines inline and the rest in the body, each once', () => {
    const plan = planReview(
      review([
        { severity: 'major', file: 'auth.py', line: 3, title: 'Clock skew', detail: 'Use a margin.' },
        {
          severity: 'minor',
          file: 'auth.py',
          line: 10,
          title: 'Outside the diff',
          detail: 'Not changed here.',
        },
        { severity: 'nit', title: 'No file', detail: 'General remark.' },
      ]),
      DIFF,
      { alreadyPosted: new Set(), requestChanges: false, taskUrl: 'https://sv.example/#/tasks/t1' },
    );
    expect(plan.comments).toEqual([
      { path: 'auth.py', line: 3, side: 'RIGHT', body: expect.stringContaining('Clock skew') },
    ]);
    expect(plan.body).toContain('`auth.py:10`: **🟡 minor: Outside the diff**');
    expect(plan.body).toContain('**⚪ nit: No file**');
    expect(plan.body).not.toContain('Clock skew');
    expect(plan.body).toContain('[task](https://sv.example/#/tasks/t1)');
    expect(plan.event).toBe('COMMENT');
    expect(plan.keys).toHaveLength(3);
  });

  it('leaves out findings an earlier review of the pull request posted, whatever their line now', () => {
    const old = {
      severity: 'major' as const,
      file: 'auth.py',
      line: 3,
      title: 'Clock skew',
      detail: 'Use a margin.',
    };
    const plan = planReview(
      review([
        { ...old, line: 4 },
        { severity: 'minor', file: 'new.py', line: 2, title: 'Name b', detail: 'Say what b is.' },
      ]),
      DIFF,
      { alreadyPosted: new Set([findingKey(old)]), requestChanges: false },
    );
    expect(plan.comments.map((c) => c.path)).toEqual(['new.py']);
    expect(plan.repeated).toBe(1);
    expect(plan.body).toContain('1 reported on an earlier commit of this pull request is not repeated.');
  });

  it('requests changes only when the policy allows it and there is something new', () => {
    const finding = {
      severity: 'critical' as const,
      file: 'auth.py',
      line: 2,
      title: 'Secret',
      detail: 'Leaks.',
    };
    const options = { alreadyPosted: new Set<string>(), requestChanges: true };
    expect(planReview(review([finding], 'request_changes'), DIFF, options).event).toBe('REQUEST_CHANGES');
    expect(
      planReview(review([finding], 'request_changes'), DIFF, { ...options, requestChanges: false }).event,
    ).toBe('COMMENT');
    expect(
      planReview(review([finding], 'request_changes'), DIFF, {
        ...options,
        alreadyPosted: new Set([findingKey(finding)]),
      }).event,
    ).toBe('COMMENT');
  });

  it('fails the check run at the configured severity, with an annotation per located finding', () => {
    const data = review([
      { severity: 'major', file: 'auth.py', line: 3, title: 'Clock skew', detail: 'Use a margin.' },
      { severity: 'nit', title: 'No file', detail: 'General remark.' },
    ]);
    expect(planCheckRun(data, 'critical').conclusion).toBe('success');
    expect(planCheckRun(data, 'major').conclusion).toBe('failure');
    expect(planCheckRun(data, 'never').conclusion).toBe('success');
    const plan = planCheckRun(data, 'major');
    expect(plan.title).toBe('2 findings: 1 major, 1 nit');
    expect(plan.annotations).toEqual([
      {
        path: 'auth.py',
        start_line: 3,
        end_line: 3,
        annotation_level: 'failure',
        title: 'Clock skew',
        message: 'Use a margin.',
      },
    ]);
  });
});
