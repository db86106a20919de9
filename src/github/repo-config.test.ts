import { describe, expect, it } from 'vitest';
import { DEFAULT_REPO_CONFIG, parseRepoConfig } from './repo-config.ts';

describe('.github/supervisor.yml', () => {
  it('fills what it leaves out with the defaults; an empty file is all defaults', () => {
    expect(DEFAULT_REPO_CONFIG).toEqual({
      reviews: true,
      review_drafts: false,
      summarize_new_issues: false,
      commands: true,
    });
    expect(parseRepoConfig('')).toEqual({ ok: true, config: DEFAULT_REPO_CONFIG });
    expect(parseRepoConfig('reviews: false\nsummarize_new_issues: true\n')).toEqual({
      ok: true,
      config: { ...DEFAULT_REPO_CONFIG, reviews: false, summarize_new_issues: true },
    });
  });

  it('takes the agent CLI the repository prefers', () => {
    expect(parseRepoConfig('agent_cli: gemini\n')).toEqual({
      ok: true,
      config: { ...DEFAULT_REPO_CONFIG, agent_cli: 'gemini' },
    });
    expect((parseRepoConfig('agent_cli: cursor\n') as { error: string }).error).toMatch(/agent_cli/);
  });

  it('names what it cannot read: not YAML, an unknown key, a wrong type', () => {
    const error = (text: string) => (parseRepoConfig(text) as { error: string }).error;
    expect(error('reviews: [')).toMatch(/^\.github\/supervisor\.yml is not YAML: /);
    expect(error('review: false')).toContain('Unrecognized key: "review"');
    expect(error('reviews: "no"')).toMatch(/reviews/);
    expect(error('- a list')).toMatch(/expected object/);
  });
});
