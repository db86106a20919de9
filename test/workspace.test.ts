import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RepositoryPolicy } from '../src/workspace/repository-policy.ts';
import { WorkspaceError, WorkspaceManager } from '../src/workspace/workspace-manager.ts';
import { createSourceRepo } from './support/git-repo.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function manager(settings: { reposRoot?: string; repositoryPolicy?: RepositoryPolicy } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'workspaces-'));
  dirs.push(root);
  return new WorkspaceManager({
    workspacesDir: join(root, 'workspaces'),
    mirrorsDir: join(root, 'mirrors'),
    refreshMs: 0,
    logger: pino({ level: 'silent' }),
    repositoryPolicy: { schemes: ['file', 'https'], hosts: [] },
    ...settings,
  });
}
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const attempt = (n: number) => `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`;
const branches = (mirrorOf: string) =>
  execFileSync('git', ['--git-dir', mirrorOf, 'branch', '--list', '--format=%(refname:short)'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n');

describe('workspaces', () => {
  it('gives two mutating tasks on one repository their own worktree and branch', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const workspaces = manager();
    const first = await workspaces.prepare(
      { id: id(1), type: 'BUG_FIX', payload: { repository: source.path, description: 'x' } },
      attempt(1),
    );
    const second = await workspaces.prepare(
      { id: id(2), type: 'FEATURE', payload: { repository: source.path, description: 'y' } },
      attempt(2),
    );
    expect(first.dir).not.toBe(second.dir);
    expect([first.branch, second.branch]).toEqual([`supervisor/${id(1)}`, `supervisor/${id(2)}`]);
    writeFileSync(join(first.dir, 'a.txt'), 'first\n');
    expect(readFileSync(join(second.dir, 'a.txt'), 'utf8')).toBe('base\n');

    const result = await workspaces.collect(first, {
      id: id(1),
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'x' },
    });
    expect(result).toMatchObject({ files_changed: 1, insertions: 1, deletions: 1, diff_truncated: false });
    expect(result!.diff).toContain('+first');
    expect(
      await workspaces.collect(second, {
        id: id(2),
        type: 'FEATURE',
        payload: { repository: source.path, description: 'y' },
      }),
    ).toMatchObject({
      commits: [],
      diff: '',
    });
  });

  it('gives each attempt its own worktree; a retry continues work its predecessor never handed in', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const workspaces = manager();
    const task = {
      id: id(3),
      type: 'REFACTOR' as const,
      payload: { repository: source.path, description: 'x' },
    };
    const first = await workspaces.prepare(task, attempt(31));
    // Its worker dies here: the work is in the worktree, uncommitted and never collected.
    writeFileSync(join(first.dir, 'progress.txt'), 'half done\n');
    const second = await workspaces.prepare(task, attempt(32));
    expect(second.dir).not.toBe(first.dir);
    expect(second).toMatchObject({ branch: first.branch, baseCommit: source.head });
    expect(readFileSync(join(second.dir, 'progress.txt'), 'utf8')).toBe('half done\n');
    writeFileSync(join(second.dir, 'done.txt'), 'done\n');
    const result = await workspaces.collect(second, task);
    expect(result).toMatchObject({ files_changed: 2, base_commit: source.head });
    expect(result!.commits).toHaveLength(2);
  });

  it('never lets a late attempt move the branch under its successor, or touch its files', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const workspaces = manager();
    const task = {
      id: id(7),
      type: 'BUG_FIX' as const,
      payload: { repository: source.path, description: 'x' },
    };
    const late = await workspaces.prepare(task, attempt(71));
    const current = await workspaces.prepare(task, attempt(72));
    writeFileSync(join(current.dir, 'a.txt'), 'current\n');
    const done = await workspaces.collect(current, task);
    writeFileSync(join(late.dir, 'a.txt'), 'late\n');
    await expect(workspaces.collect(late, task)).rejects.toThrow(/moved on while this attempt ran/);
    await workspaces.release(late);
    expect(readFileSync(join(current.dir, 'a.txt'), 'utf8')).toBe('current\n');
    const tip = execFileSync('git', ['--git-dir', current.mirror!, 'rev-parse', current.branch!], {
      encoding: 'utf8',
    }).trim();
    expect(tip).toBe(done!.head_commit);
  });

  it('pushes a task’s branch to its source as a fast-forward only, with the credentials given for its URL', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const remote = mkdtempSync(join(tmpdir(), 'remote-'));
    dirs.push(remote);
    execFileSync('git', ['clone', '--quiet', '--bare', source.path, remote]);
    const asked: string[] = [];
    const workspaces = manager();
    const withCredentials = new WorkspaceManager({
      workspacesDir: join(remote, '..', `${basename(remote)}-workspaces`),
      mirrorsDir: join(remote, '..', `${basename(remote)}-mirrors`),
      refreshMs: 0,
      logger: pino({ level: 'silent' }),
      repositoryPolicy: { schemes: ['file'], hosts: [] },
      // Harmless configuration, so the test sees git was run with what the function gave.
      gitCredentials: async (url) => {
        asked.push(url);
        return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.askPass', GIT_CONFIG_VALUE_0: 'true' };
      },
    });
    dirs.push(
      join(remote, '..', `${basename(remote)}-workspaces`),
      join(remote, '..', `${basename(remote)}-mirrors`),
    );
    const task = { id: id(9), type: 'BUG_FIX' as const, payload: { repository: remote, description: 'x' } };
    const first = await withCredentials.prepare(task, attempt(91));
    writeFileSync(join(first.dir, 'a.txt'), 'fixed\n');
    const done = await withCredentials.collect(first, task);
    expect(await withCredentials.push(first, 'fix/a')).toEqual({
      branch: 'fix/a',
      commit: done!.head_commit,
    });
    const remoteTip = () =>
      execFileSync('git', ['--git-dir', remote, 'rev-parse', 'fix/a'], { encoding: 'utf8' }).trim();
    expect(remoteTip()).toBe(done!.head_commit);
    // Clone, fetch and push each asked for the source's credentials.
    expect(new Set(asked)).toEqual(new Set([remote]));
    expect(asked.length).toBeGreaterThanOrEqual(3);

    // Someone else moves the pushed branch; the next attempt's push is refused, theirs kept.
    const other = createSourceRepo({ 'b.txt': 'theirs\n' });
    execFileSync('git', ['-C', other.path, 'push', '--quiet', '--force', remote, 'HEAD:refs/heads/fix/a']);
    const theirs = remoteTip();
    const second = await withCredentials.prepare(task, attempt(92));
    writeFileSync(join(second.dir, 'a.txt'), 'fixed again\n');
    await withCredentials.collect(second, task);
    await expect(withCredentials.push(second, 'fix/a')).rejects.toThrow(
      'the remote branch fix/a has commits this change does not (someone else pushed to it): left as it was',
    );
    expect(remoteTip()).toBe(theirs);

    // A read-only workspace has no branch to push.
    const review = await workspaces.prepare(
      { id: id(10), type: 'CODE_ANALYSIS', payload: { repository: source.path } },
      attempt(100),
    );
    await expect(workspaces.push(review, 'x')).rejects.toThrow(/only a change task’s branch can be pushed/);
  });

  it('removes read-only worktrees after the attempt; the sweep keeps what is needed and the branches of existing tasks', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const workspaces = manager();
    const readOnly = await workspaces.prepare(
      { id: id(4), type: 'CODE_ANALYSIS', payload: { repository: source.path } },
      attempt(41),
    );
    expect(readFileSync(join(readOnly.dir, 'a.txt'), 'utf8')).toBe('base\n');
    await workspaces.release(readOnly);
    expect(existsSync(readOnly.dir)).toBe(false);
    // The same task checks out again for a retry, in a directory of its own.
    await workspaces.release(
      await workspaces.prepare(
        { id: id(4), type: 'CODE_ANALYSIS', payload: { repository: source.path } },
        attempt(42),
      ),
    );

    const done = await workspaces.prepare(
      { id: id(5), type: 'BUG_FIX', payload: { repository: source.path, description: 'x' } },
      attempt(5),
    );
    const live = await workspaces.prepare(
      { id: id(6), type: 'BUG_FIX', payload: { repository: source.path, description: 'y' } },
      attempt(6),
    );
    const mirror = readFileSync(join(done.dir, '.git'), 'utf8')
      .replace('gitdir: ', '')
      .trim()
      .replace(/\/worktrees\/.*$/, '');
    const liveRetry = await workspaces.prepare(
      { id: id(6), type: 'BUG_FIX', payload: { repository: source.path, description: 'y' } },
      attempt(61),
    );
    const sweep = (policy: { liveTasks: string[]; overAttempts: string[]; existing: string[] }) =>
      workspaces.sweep({
        keepTask: async (taskId) => policy.liveTasks.includes(taskId),
        keepAttempt: async (_taskId, attemptId) => !policy.overAttempts.includes(attemptId),
        existingTasks: async (ids) => new Set(ids.filter((taskId) => policy.existing.includes(taskId))),
      });
    // The done mutating task and the read-only one go whole (the read-only attempts had released
    // their worktrees already), and so does the live task's attempt that is over, alone.
    expect(await sweep({ liveTasks: [id(6)], overAttempts: [attempt(6)], existing: [id(5), id(6)] })).toBe(3);
    expect(existsSync(done.dir)).toBe(false);
    expect(existsSync(live.dir)).toBe(false);
    expect(existsSync(liveRetry.dir)).toBe(true);
    // Branches stay as long as their task exists; a task deleted by retention loses its branch.
    expect(branches(mirror)).toEqual(expect.arrayContaining([`supervisor/${id(5)}`, `supervisor/${id(6)}`]));
    await sweep({ liveTasks: [id(6)], overAttempts: [], existing: [id(6)] });
    expect(branches(mirror)).not.toContain(`supervisor/${id(5)}`);
    expect(branches(mirror)).toContain(`supervisor/${id(6)}`);
  });

  it('computes the diff of a review given by refs', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    source.git('checkout', '--quiet', '-b', 'feature');
    writeFileSync(join(source.path, 'a.txt'), 'changed\n');
    source.git('commit', '--quiet', '-am', 'change');
    source.git('checkout', '--quiet', 'main');
    const workspace = await manager().prepare(
      {
        id: id(7),
        type: 'PR_REVIEW',
        payload: { repository: source.path, title: 'T', base_ref: 'main', head_ref: 'feature' },
      },
      attempt(99),
    );
    expect(workspace.reviewDiff).toContain('-base\n+changed');
    expect(readFileSync(join(workspace.dir, 'a.txt'), 'utf8')).toBe('changed\n');
  });

  it('refuses a repository the policy does not allow, before any git command runs', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const strict = manager({ repositoryPolicy: { schemes: ['https'], hosts: ['github.com'] } });
    await expect(
      strict.prepare(
        { id: id(20), type: 'BUG_FIX', payload: { repository: source.path, description: 'x' } },
        attempt(99),
      ),
    ).rejects.toThrow('local repositories (paths and file:// URLs) are not allowed here');
    await expect(
      strict.prepare(
        {
          id: id(21),
          type: 'CODE_ANALYSIS',
          payload: { repository: 'https://evil.example/x' },
        },
        attempt(99),
      ),
    ).rejects.toThrow('host evil.example is not allowed');
  });

  it('finds owner/repo under REPOS_ROOT, and explains what it cannot find', async () => {
    const source = createSourceRepo({ 'a.txt': 'base\n' });
    const reposRoot = mkdtempSync(join(tmpdir(), 'repos-root-'));
    dirs.push(reposRoot);
    execFileSync('git', ['clone', '--quiet', source.path, join(reposRoot, 'acme', 'calc')]);
    const found = await manager({ reposRoot }).prepare(
      {
        id: id(9),
        type: 'CODE_ANALYSIS',
        payload: { repository: 'acme/calc' },
      },
      attempt(99),
    );
    expect(readFileSync(join(found.dir, 'a.txt'), 'utf8')).toBe('base\n');
    await expect(
      manager({ reposRoot }).prepare(
        {
          id: id(8),
          type: 'CODE_ANALYSIS',
          payload: { repository: 'acme/missing' },
        },
        attempt(99),
      ),
    ).rejects.toBeInstanceOf(WorkspaceError);

    await expect(
      manager().prepare(
        {
          id: id(10),
          type: 'BUG_FIX',
          payload: { repository: 'acme/api', description: 'x' },
        },
        attempt(99),
      ),
    ).rejects.toThrow('set REPOS_ROOT or GIT_BASE_URL');
    await expect(
      manager().prepare(
        {
          id: id(11),
          type: 'CODE_ANALYSIS',
          payload: { repository: source.path, ref: 'no-such-branch' },
        },
        attempt(99),
      ),
    ).rejects.toThrow('ref "no-such-branch" does not exist');
    // A review reads the code around its diff: a repository it cannot check out is an error, not
    // a review of the diff alone passed off as one of the repository.
    await expect(
      manager().prepare(
        {
          id: id(12),
          type: 'PR_REVIEW',
          payload: { repository: 'acme/api', title: 'T', diff: '+x' },
        },
        attempt(99),
      ),
    ).rejects.toThrow('set REPOS_ROOT or GIT_BASE_URL');
    // An issue summary reads the issue, which the payload carries: it can go without a checkout.
    expect(
      await manager().prepare(
        {
          id: id(13),
          type: 'ISSUE_SUMMARY',
          payload: { repository: 'acme/api', title: 'T', body: 'It crashes' },
        },
        attempt(99),
      ),
    ).toMatchObject({ kind: 'scratch', readOnly: true, note: expect.stringContaining('no checkout') });
  });
});
