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
        pullNumber: 7,
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
});
