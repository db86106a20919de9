import { describe, expect, it } from 'vitest';
import { triggerFor } from './triggers.ts';

const HEAD = 'a'.repeat(40);
const BASE = 'b'.repeat(40);
const pullRequest = (action: string, changes: Record<string, unknown> = {}) => ({
  action,
  installation: { id: 42 },
  repository: { full_name: 'acme/widgets' },
  pull_request: {
    number: 7,
    title: 'Refresh tokens',
    body: 'Before they expire.',
    draft: false,
    head: { sha: HEAD, ref: 'refresh', repo: { full_name: 'acme/widgets' } },
    base: { sha: BASE, ref: 'main' },
    ...changes,
  },
});

describe('GitHub triggers', () => {
  it('reviews the head commit of a pull request opened, pushed to, reopened or made ready', () => {
    for (const action of ['opened', 'synchronize', 'reopened', 'ready_for_review']) {
      expect(triggerFor('pull_request', pullRequest(action))).toEqual({
        kind: 'pr_review',
        repository: 'acme/widgets',
        installationId: 42,
        number: 7,
        headSha: HEAD,
        url: null,
        draft: false,
        payload: {
          repository: 'acme/widgets',
          pr_number: 7,
          title: 'Refresh tokens',
          description: 'Before they expire.',
          base_ref: BASE,
          head_ref: HEAD,
        },
      });
    }
  });

  it('says why it starts nothing', () => {
    // A draft is still a review trigger, marked so: the repository's settings decide (github-service).
    expect(triggerFor('pull_request', pullRequest('opened', { draft: true }))).toMatchObject({
      kind: 'pr_review',
      draft: true,
    });
    expect(triggerFor('pull_request', pullRequest('closed'))).toEqual({
      kind: 'none',
      reason: 'pull_request.closed is not reviewed',
    });
    expect(triggerFor('star', {})).toEqual({ kind: 'none', reason: 'no trigger for star events' });
    const broken = triggerFor('pull_request', {
      action: 'opened',
      repository: { full_name: 'acme/widgets' },
    });
    expect(broken.kind).toBe('none');
    expect((broken as { reason: string }).reason).toMatch(/^not a pull_request payload: .*pull_request/s);
  });

  const comment = (body: string, changes: Record<string, unknown> = {}) => ({
    action: 'created',
    installation: { id: 42 },
    repository: { full_name: 'acme/widgets' },
    issue: { number: 7, pull_request: { url: 'https://api.github.com/repos/acme/widgets/pulls/7' } },
    comment: { id: 99, body },
    sender: { login: 'alice', type: 'User' },
    ...changes,
  });

  it('reads `@supervisor review` in a pull request comment, in any case, anywhere in it', () => {
    for (const [body, request] of [
      ['@supervisor review', ''],
      ['Thanks! @Supervisor REVIEW please', 'please'],
      ['cc\n@supervisor review', ''],
    ]) {
      expect(triggerFor('issue_comment', comment(body!))).toEqual({
        kind: 'command',
        command: 'review',
        commentId: 99,
        request,
        repository: 'acme/widgets',
        installationId: 42,
        number: 7,
        actor: 'alice',
      });
    }
    expect(triggerFor('issue_comment', comment('@acme-bot review'), 'acme-bot')).toMatchObject({
      kind: 'command',
    });
  });

  it('starts nothing for bots, edits, other words, unknown commands, or a review asked on an issue', () => {
    const reason = (payload: unknown) => (triggerFor('issue_comment', payload) as { reason: string }).reason;
    expect(reason(comment('@supervisor review', { sender: { login: 'supervisor[bot]', type: 'Bot' } }))).toBe(
      'comments by bots (supervisor[bot]) are not read',
    );
    expect(reason(comment('@supervisor review', { action: 'edited' }))).toBe(
      'issue_comment.edited is not read',
    );
    expect(reason(comment('email me at a@supervisor.review'))).toBe('no @supervisor command');
    expect(reason(comment('@supervisorreview'))).toBe('no @supervisor command');
    expect(reason(comment('@supervisor deploy', { issue: { number: 3 } }))).toBe(
      'unknown command "deploy" (known: review, summarize, analyze, fix, implement)',
    );
    expect(reason(comment('@supervisor review', { issue: { number: 3 } }))).toBe(
      'review works on pull requests, and this is an issue',
    );
    expect(
      triggerFor('issue_comment', comment('@supervisor summarize', { issue: { number: 3 } })),
    ).toMatchObject({
      kind: 'command',
      command: 'summarize',
      number: 3,
    });
  });

  it('reads `@supervisor fix` and `implement` on an issue, with what the comment asks beyond the issue', () => {
    const issue = { number: 3 };
    expect(
      triggerFor('issue_comment', comment('@supervisor fix and add a regression test\nthanks', { issue })),
    ).toMatchObject({
      kind: 'command',
      command: 'fix',
      number: 3,
      request: 'and add a regression test\nthanks',
    });
    expect(triggerFor('issue_comment', comment('@supervisor implement', { issue }))).toMatchObject({
      command: 'implement',
      request: '',
    });
    expect(triggerFor('issue_comment', comment('@supervisor fix'))).toEqual({
      kind: 'none',
      reason: 'fix works on issues, and this is a pull request',
    });
  });
});

describe('issue labels', () => {
  const labeled = (name: string, changes: Record<string, unknown> = {}) => ({
    action: 'labeled',
    installation: { id: 42 },
    repository: { full_name: 'acme/widgets' },
    issue: { number: 5 },
    label: { name },
    sender: { login: 'bob', type: 'User' },
    ...changes,
  });

  it('starts a fix or an implementation when its label is added, by whoever added it', () => {
    expect(triggerFor('issues', labeled('supervisor:fix'))).toEqual({
      kind: 'command',
      command: 'fix',
      commentId: null,
      request: '',
      repository: 'acme/widgets',
      installationId: 42,
      number: 5,
      actor: 'bob',
    });
    expect(triggerFor('issues', labeled('Supervisor:Implement'))).toMatchObject({ command: 'implement' });
  });

  it('starts nothing for other labels, other actions or bots', () => {
    const reason = (payload: unknown) => (triggerFor('issues', payload) as { reason: string }).reason;
    expect(reason(labeled('bug'))).toBe('label "bug" asks for nothing');
    // A name that is a property of every object is still just a label.
    expect(reason(labeled('constructor'))).toBe('label "constructor" asks for nothing');
    expect(reason(labeled('supervisor:fix', { action: 'unlabeled' }))).toBe('issues.unlabeled is not read');
    expect(reason({ ...labeled('x'), action: 'closed', label: undefined })).toBe('issues.closed is not read');
    expect(triggerFor('issues', { ...labeled('x'), action: 'opened', label: undefined })).toEqual({
      kind: 'new_issue',
      repository: 'acme/widgets',
      installationId: 42,
      number: 5,
      actor: 'bob',
    });
    expect(reason(labeled('supervisor:fix', { sender: { login: 'ci[bot]', type: 'Bot' } }))).toBe(
      'labels added by bots (ci[bot]) are not read',
    );
  });
});

describe('words for the agent on a pull request', () => {
  const comment = (body: string, sender = { login: 'alice', type: 'User' }) => ({
    action: 'created',
    installation: { id: 42 },
    repository: { full_name: 'acme/widgets' },
    issue: { number: 9, pull_request: { url: 'https://api.github.com/repos/acme/widgets/pulls/9' } },
    comment: { id: 77, body },
    sender,
  });
  const review = (state: string, body: string | null, action = 'submitted', type = 'User') => ({
    action,
    installation: { id: 42 },
    repository: { full_name: 'acme/widgets' },
    pull_request: { number: 9 },
    review: { id: 501, body, state },
    sender: { login: 'alice', type },
  });

  it('reads `@supervisor <anything but a command>` on a pull request as a message', () => {
    expect(triggerFor('issue_comment', comment('@supervisor please also handle nulls'))).toEqual({
      kind: 'message',
      repository: 'acme/widgets',
      installationId: 42,
      number: 9,
      actor: 'alice',
      text: 'please also handle nulls',
      reviewId: null,
      source: 'github:comment:77',
    });
  });

  it('reads a submitted review, unless it is an approval without words or a bot’s', () => {
    expect(triggerFor('pull_request_review', review('changes_requested', 'Add a test.'))).toEqual({
      kind: 'message',
      repository: 'acme/widgets',
      installationId: 42,
      number: 9,
      actor: 'alice',
      text: 'Add a test.',
      reviewId: 501,
      source: 'github:review:501',
    });
    // Inline comments alone are still something to act on (the service reads them).
    expect(triggerFor('pull_request_review', review('commented', null))).toMatchObject({ text: '' });
    const reason = (payload: unknown) =>
      (triggerFor('pull_request_review', payload) as { reason: string }).reason;
    expect(reason(review('approved', ''))).toBe('an approval without words asks for nothing');
    expect(reason(review('commented', 'x', 'dismissed'))).toBe('pull_request_review.dismissed is not read');
    expect(reason(review('commented', 'x', 'submitted', 'Bot'))).toBe('reviews by bots (alice) are not read');
  });
});

describe('failed checks', () => {
  const checkRun = (action: string, conclusion: string | null, prs = [{ number: 9 }]) => ({
    action,
    installation: { id: 42 },
    repository: { full_name: 'acme/widgets' },
    check_run: {
      id: 77,
      name: 'test',
      head_sha: HEAD,
      conclusion,
      output: { title: '2 failed', summary: 'calc.test.js', text: null },
      pull_requests: prs,
      app: { id: 15368 },
    },
  });

  it('reads a failed or timed-out check on a pull request, with what it said', () => {
    expect(triggerFor('check_run', checkRun('completed', 'failure'))).toEqual({
      kind: 'check_failed',
      repository: 'acme/widgets',
      installationId: 42,
      numbers: [9],
      checkRunId: 77,
      appId: 15368,
      headSha: HEAD,
      text: `The check "test" ended failure on ${HEAD}.\n\n2 failed\n\ncalc.test.js`,
    });
    expect(triggerFor('check_run', checkRun('completed', 'timed_out'))).toMatchObject({
      kind: 'check_failed',
    });
  });

  it('starts nothing for a passing, running or pull-request-less check', () => {
    const reason = (payload: unknown) => (triggerFor('check_run', payload) as { reason: string }).reason;
    expect(reason(checkRun('completed', 'success'))).toBe('a check that ended success asks for nothing');
    expect(reason(checkRun('created', null))).toBe('check_run.created is not read');
    expect(reason(checkRun('completed', 'failure', []))).toBe('the check is on no pull request');
  });
});
