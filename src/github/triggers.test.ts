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
    expect(triggerFor('pull_request', pullRequest('opened', { draft: true }))).toEqual({
      kind: 'none',
      reason: 'draft pull requests are reviewed when marked ready',
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
    for (const body of [
      '@supervisor review',
      'Thanks! @Supervisor REVIEW please',
      'cc\n@supervisor review',
    ]) {
      expect(triggerFor('issue_comment', comment(body))).toEqual({
        kind: 'command',
        command: 'review',
        commentId: 99,
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
    expect(reason(comment('@supervisor deploy'))).toBe('unknown command "deploy" (known: review, summarize)');
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
});
