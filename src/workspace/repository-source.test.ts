import { describe, expect, it } from 'vitest';
import { resolveRepository } from './repository-source.ts';

describe('resolveRepository', () => {
  it('uses URLs and paths as given', () => {
    for (const url of [
      'https://github.com/o/r.git',
      'ssh://git@host/o/r',
      'file:///srv/r',
      'git@github.com:o/r.git',
      '/srv/repos/r',
    ]) {
      expect(resolveRepository(url, {})).toEqual({ ok: true, url });
    }
  });

  it('finds owner/repo under REPOS_ROOT first, then GIT_BASE_URL', () => {
    expect(resolveRepository('acme/api', { reposRoot: '/srv/repos/', gitBaseUrl: 'https://x/' })).toEqual({
      ok: true,
      url: '/srv/repos/acme/api',
    });
    expect(resolveRepository('acme/api', { gitBaseUrl: 'https://github.com/' })).toEqual({
      ok: true,
      url: 'https://github.com/acme/api.git',
    });
  });

  it('says what to set when owner/repo has nowhere to come from', () => {
    const result = resolveRepository('acme/api', {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain('REPOS_ROOT or GIT_BASE_URL');
  });
});
