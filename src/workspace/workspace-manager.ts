import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { isMutatingTaskType, type TaskPayload, type TaskType } from '../core/task-types.ts';
import { GitError, git } from './git.ts';
import { type RepositoryPolicy, repositoryRefusal } from './repository-policy.ts';
import { resolveRepository, type SourceSettings } from './repository-source.ts';

/**
 * Isolated places for agents to work, made from a shared local copy of each repository.
 *
 * - Each repository is cloned once (bare) under `mirrorsDir` and fetched again when older than
 *   `refreshMs`. Upstream branches land in `refs/remotes/origin/*`; the supervisor's own branches
 *   live in `refs/heads/supervisor/*`, which a fetch never touches.
 * - Every attempt works in its own directory, `<workspacesDir>/<task id>/<attempt id>`, so an
 *   attempt that outlives its claim (a late one) can never touch its successor's files.
 * - Read-only tasks get a detached worktree at the requested ref, removed after the attempt.
 *   An issue summary whose repository cannot be fetched gets a scratch directory; any other task
 *   whose repository cannot be checked out fails before an agent runs.
 * - Mutating tasks work on the branch `supervisor/<task id>`: each attempt gets a worktree
 *   detached at the branch's tip, and its work moves the branch forward when it is collected,
 *   only if the branch is still where the attempt started (compare and swap). Work an attempt
 *   left behind without being collected (its worker died) is committed and moved onto the branch
 *   before the next attempt starts, so a retry continues it.
 * - The sweeper removes a read-only attempt's worktree once the attempt is over, a mutating one's
 *   after the retention period, and a task's branch once the task itself is deleted
 *   (TASK_RETENTION_DAYS). The source repository is never written to.
 */

export interface Workspace {
  dir: string;
  readOnly: boolean;
  kind: 'worktree' | 'scratch';
  /** The commit the work starts from (for a mutating task, the base of its branch). */
  baseCommit?: string;
  branch?: string;
  /** Mutating: the branch's tip when this attempt started; the attempt's work moves it on. */
  startCommit?: string;
  /**
   * The worktree's git directory inside the mirror, which the agent cannot write. The supervisor's
   * own git commands use it instead of discovering it through the agent-writable `.git` file.
   */
  gitDir?: string;
  /** The repository's bare mirror: the supervisor reads history from it (memory staleness). */
  mirror?: string;
  /** A diff the supervisor computed for a review (head against base). */
  reviewDiff?: string;
  /** Said to the agent and recorded, e.g. why there is no checkout. */
  note?: string;
}

export interface WorkspaceResult {
  branch: string;
  /** Where the branch was pushed, when the task asked for that (`push_branch`). */
  pushed?: { branch: string; commit: string };
  base_commit: string;
  head_commit: string;
  commits: Array<{ sha: string; subject: string }>;
  files_changed: number;
  insertions: number;
  deletions: number;
  diff: string;
  diff_truncated: boolean;
}

/**
 * Environment for git to fetch from and push to `url` with (credentials, as GIT_CONFIG_* entries,
 * so they stay out of the command line and out of the mirror's config); undefined: none needed.
 */
export type GitCredentials = (url: string) => Promise<Record<string, string> | undefined>;

export interface WorkspaceSettings extends SourceSettings {
  repositoryPolicy: RepositoryPolicy;
  gitCredentials?: GitCredentials;
  workspacesDir: string;
  mirrorsDir: string;
  refreshMs: number;
  logger: Logger;
}

/** What the sweeper may remove; each answer comes from the database (an error stops the sweep). */
export interface SweepPolicy {
  /** Whether a task still needs its directory at all. */
  keepTask(taskId: string): Promise<boolean>;
  /** Whether one attempt's worktree is still needed (the attempt runs, or kept for inspection). */
  keepAttempt(taskId: string, attemptId: string): Promise<boolean>;
  /** The tasks among `ids` that still exist; the branches of the others are deleted. */
  existingTasks(ids: string[]): Promise<Set<string>>;
}

export interface TaskForWorkspace {
  id: string;
  type: TaskType;
  payload: TaskPayload;
}

/** The largest diff stored with a task; the branch always holds the whole change. */
export const MAX_DIFF_BYTES = 1024 * 1024;

/** A full or abbreviated commit id; anything else is never handed to git. */
const COMMIT_SHA = /^[0-9a-f]{7,64}$/;

export class WorkspaceError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'WorkspaceError';
  }
}

/** A mutating task's branch, kept beside its attempts' worktrees (`<task dir>/branch.json`). */
interface BranchMetadata {
  baseCommit: string;
  branch: string;
  mirror: string;
}

/** A mutating attempt's worktree (`<attempt dir>.json`): where it started, and whether its work is on the branch. */
interface AttemptMetadata {
  startCommit: string;
  collected: boolean;
}

export class WorkspaceManager {
  readonly #settings: WorkspaceSettings;
  readonly #lastFetch = new Map<string, number>();
  /**
   * Ref → commit per mirror, valid until the mirror is fetched again. Promises, so attempts
   * starting together share one look-up (each is a git process) instead of one each.
   */
  readonly #resolved = new Map<string, Promise<string>>();
  /** Mirror → the URL it was cloned from (for credentials). */
  readonly #urls = new Map<string, string>();
  /** One git operation per mirror at a time: concurrent fetches and worktree adds fight over locks. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(settings: WorkspaceSettings) {
    this.#settings = settings;
    mkdirSync(settings.workspacesDir, { recursive: true });
    mkdirSync(settings.mirrorsDir, { recursive: true });
  }

  /** The directory of one attempt's work. */
  dirFor(taskId: string, attemptId: string): string {
    return join(this.#settings.workspacesDir, taskId, attemptId);
  }

  async prepare(task: TaskForWorkspace, attemptId: string): Promise<Workspace> {
    const payload = task.payload as Record<string, unknown>;
    const refusal = repositoryRefusal(String(payload.repository), this.#settings.repositoryPolicy);
    const source = refusal
      ? ({ ok: false, reason: refusal } as const)
      : resolveRepository(String(payload.repository), this.#settings);
    const dir = this.dirFor(task.id, attemptId);

    if (isMutatingTaskType(task.type)) {
      if (!source.ok) throw new WorkspaceError(source.reason);
      return this.#mutatingWorktree(task, dir, source.url, optionalString(payload.base_ref));
    }
    // An issue summary reads the issue, which the payload carries; every other type reads the code,
    // and a review of a diff without the code around it would pass for a review of the repository.
    const canGoWithout = task.type === 'ISSUE_SUMMARY';
    if (!source.ok) {
      if (canGoWithout) return this.#scratch(dir, `no checkout: ${source.reason}`);
      throw new WorkspaceError(source.reason);
    }
    try {
      const mirror = await this.#mirror(source.url);
      const ref = task.type === 'PR_REVIEW' ? optionalString(payload.head_ref) : optionalString(payload.ref);
      const commit = await this.#resolve(mirror, ref ?? optionalString(payload.base_ref));
      await this.#locked(mirror, async () => {
        mkdirSync(dirname(dir), { recursive: true });
        await git(['--git-dir', mirror, 'worktree', 'add', '--detach', dir, commit]);
      });
      const workspace: Workspace = { dir, readOnly: true, kind: 'worktree', baseCommit: commit, mirror };
      if (task.type === 'PR_REVIEW' && payload.head_ref && !payload.diff) {
        const base = await this.#resolve(mirror, optionalString(payload.base_ref));
        workspace.reviewDiff = await git(['--git-dir', mirror, 'diff', `${base}...${commit}`], {
          maxBytes: 64 * 1024 * 1024,
        });
      }
      return workspace;
    } catch (error) {
      if (canGoWithout) return this.#scratch(dir, `no checkout: ${(error as Error).message}`);
      throw error instanceof WorkspaceError
        ? error
        : new WorkspaceError(`could not check out ${source.url}: ${(error as Error).message}`, {
            cause: error,
          });
    }
  }

  /**
   * For a mutating task: commits what the agent left uncommitted, then describes the branch
   * (commits and diff against the base). Undefined for other workspaces.
   */
  async collect(workspace: Workspace, task: TaskForWorkspace): Promise<WorkspaceResult | undefined> {
    const { branch, baseCommit, startCommit, gitDir, mirror } = workspace;
    if (workspace.readOnly || !branch || !baseCommit || !startCommit || !gitDir || !mirror) return undefined;
    const head = await this.#commitWork(workspace.dir, gitDir, task);
    await this.#locked(mirror, () => advanceBranch(mirror, branch, startCommit, head));
    writeAttemptMetadata(workspace.dir, { startCommit, collected: true });
    const mirrorGit = (args: string[], options: { maxBytes?: number } = {}) =>
      git(['--git-dir', mirror, ...args], options);
    const log = await mirrorGit(['log', '--format=%H%x00%s', `${baseCommit}..${head}`]);
    const commits = log
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [sha, subject] = line.split('\0');
        return { sha: sha!, subject: subject ?? '' };
      });
    const stat = await mirrorGit(['diff', '--shortstat', baseCommit, head]);
    const fullDiff = await mirrorGit(['diff', baseCommit, head], { maxBytes: 256 * 1024 * 1024 });
    const truncated = Buffer.byteLength(fullDiff) > MAX_DIFF_BYTES;
    return {
      branch,
      base_commit: baseCommit,
      head_commit: head,
      commits,
      files_changed: Number(/(\d+) files? changed/.exec(stat)?.[1] ?? 0),
      insertions: Number(/(\d+) insertions?/.exec(stat)?.[1] ?? 0),
      deletions: Number(/(\d+) deletions?/.exec(stat)?.[1] ?? 0),
      diff: truncated ? Buffer.from(fullDiff).subarray(0, MAX_DIFF_BYTES).toString('utf8') : fullDiff,
      diff_truncated: truncated,
    };
  }

  /** `git diff --stat` of what earlier attempts left on the task's branch; undefined when nothing. */
  async carriedOver(workspace: Workspace): Promise<string | undefined> {
    const { mirror, baseCommit, startCommit } = workspace;
    if (!mirror || !baseCommit || !startCommit || startCommit === baseCommit) return undefined;
    const stat = await git(['--git-dir', mirror, 'diff', '--stat', baseCommit, startCommit]);
    return stat.trim() || undefined;
  }

  /**
   * Files changed from `from` to the workspace's base commit, or undefined when that says nothing
   * about the workspace (no mirror, an unknown commit, or `from` not an ancestor: an older checkout).
   */
  async changedSince(workspace: Workspace, from: string): Promise<string[] | undefined> {
    const { mirror, baseCommit } = workspace;
    if (!mirror || !baseCommit || !COMMIT_SHA.test(from)) return undefined;
    if (from === baseCommit) return [];
    const isAncestor = await git(['--git-dir', mirror, 'merge-base', '--is-ancestor', from, baseCommit]).then(
      () => true,
      () => false,
    );
    if (!isAncestor) return undefined;
    const names = await git(['--git-dir', mirror, 'diff', '--name-only', '--no-renames', from, baseCommit], {
      maxBytes: 16 * 1024 * 1024,
    });
    return names.split('\n').filter(Boolean);
  }

  /**
   * Commits what the agent left uncommitted in an attempt's worktree; returns its HEAD. Explicit
   * directories: the worktree may belong to the agent's user, and its `.git` file and config are
   * the agent's to change, so git must not discover anything from it.
   */
  async #commitWork(dir: string, gitDir: string, task: TaskForWorkspace): Promise<string> {
    const treeGit = (args: string[]) => git(['--git-dir', gitDir, '--work-tree', dir, ...args], { cwd: dir });
    await treeGit(['add', '-A']);
    const staged = await treeGit(['diff', '--cached', '--name-only']);
    if (staged.trim()) {
      const description = String((task.payload as Record<string, unknown>).description ?? '')
        .split('\n')[0]!
        .slice(0, 200);
      await treeGit([
        'commit',
        '--no-verify',
        '-m',
        `supervisor: ${task.type} ${task.id}`,
        '-m',
        description || 'changes made by the agent',
      ]);
    }
    return (await treeGit(['rev-parse', 'HEAD'])).trim();
  }

  /**
   * Removes a workspace an attempt no longer needs: read-only ones at once (just the files; the
   * sweeper prunes git's record of them), mutating ones after the retention period (the sweeper).
   */
  async release(workspace: Workspace): Promise<void> {
    if (workspace.readOnly) rmSync(workspace.dir, { recursive: true, force: true });
  }

  /**
   * Removes what the sweep policy says is no longer needed: whole task directories, single
   * attempts' worktrees (an attempt that is over), and the branches of tasks that no longer exist.
   * Git's records of worktrees removed by hand are pruned. Returns how many directories went.
   */
  async sweep(policy: SweepPolicy): Promise<number> {
    const mirrors = readdirSync(this.#settings.mirrorsDir).map((entry) =>
      join(this.#settings.mirrorsDir, entry),
    );
    for (const mirror of mirrors) {
      await this.#locked(mirror, () =>
        git(['--git-dir', mirror, 'worktree', 'prune']).catch(() => undefined),
      );
    }
    let removed = 0;
    for (const entry of readdirSync(this.#settings.workspacesDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const taskDir = join(this.#settings.workspacesDir, entry.name);
      if (!(await policy.keepTask(entry.name))) {
        await this.#remove(taskDir);
        removed += 1;
        continue;
      }
      for (const attempt of readdirSync(taskDir, { withFileTypes: true })) {
        if (!attempt.isDirectory() || (await policy.keepAttempt(entry.name, attempt.name))) continue;
        await this.#removeWorktree(
          join(taskDir, attempt.name),
          readJson<BranchMetadata>(join(taskDir, 'branch.json')),
        );
        removed += 1;
      }
    }
    for (const mirror of mirrors) await this.#pruneBranches(mirror, policy);
    return removed;
  }

  /** Deletes the `supervisor/<task id>` branches of tasks that no longer exist (deleted by retention). */
  async #pruneBranches(mirror: string, policy: SweepPolicy): Promise<void> {
    const listed = await git([
      '--git-dir',
      mirror,
      'for-each-ref',
      '--format=%(refname)',
      'refs/heads/supervisor/',
    ]);
    const byTask = new Map(
      listed
        .split('\n')
        .filter(Boolean)
        .map((ref) => [ref.slice('refs/heads/supervisor/'.length), ref] as const),
    );
    const existing = await policy.existingTasks([...byTask.keys()]);
    for (const [taskId, ref] of byTask) {
      if (existing.has(taskId)) continue;
      await this.#locked(mirror, () => git(['--git-dir', mirror, 'update-ref', '-d', ref]));
    }
  }

  /** Removes a task's directory: each attempt's worktree (and git's record of it), then the rest. */
  async #remove(taskDir: string): Promise<void> {
    const metadata = readJson<BranchMetadata>(join(taskDir, 'branch.json'));
    for (const entry of readdirSync(taskDir, { withFileTypes: true })) {
      if (entry.isDirectory()) await this.#removeWorktree(join(taskDir, entry.name), metadata);
    }
    rmSync(taskDir, { recursive: true, force: true });
  }

  /** Removes one attempt's directory, and git's record of it when it is a worktree of ours. */
  async #removeWorktree(dir: string, metadata: BranchMetadata | undefined): Promise<void> {
    const gitFile = join(dir, '.git');
    if (existsSync(gitFile) && statSync(gitFile).isFile()) {
      const gitDir = /gitdir: (.*)/.exec(readFileSync(gitFile, 'utf8'))?.[1]?.trim();
      const mirror = metadata?.mirror ?? gitDir?.replace(/\/worktrees\/[^/]+$/, '');
      // The `.git` file is the agent's to change: only a mirror of ours is ever given to git.
      if (mirror?.startsWith(`${this.#settings.mirrorsDir}/`) && existsSync(mirror)) {
        await this.#locked(mirror, () =>
          git(['--git-dir', mirror, 'worktree', 'remove', '--force', dir]).catch(() => undefined),
        );
      }
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.json`, { force: true });
  }

  async #mutatingWorktree(
    task: TaskForWorkspace,
    dir: string,
    url: string,
    baseRef: string | undefined,
  ): Promise<Workspace> {
    const branch = `supervisor/${task.id}`;
    const taskDir = dirname(dir);
    const existing = readJson<BranchMetadata>(join(taskDir, 'branch.json'));
    const mirror = existing?.mirror ?? (await this.#mirror(url));
    const baseCommit = existing?.baseCommit ?? (await this.#resolve(mirror, baseRef));
    const startCommit = await this.#locked(mirror, async () => {
      const tip = await branchTip(mirror, branch);
      if (!tip) await git(['--git-dir', mirror, 'update-ref', `refs/heads/${branch}`, baseCommit, '']);
      await this.#carryOver(task, taskDir, mirror, branch);
      const start = (await branchTip(mirror, branch))!;
      mkdirSync(taskDir, { recursive: true });
      await git(['--git-dir', mirror, 'worktree', 'add', '--detach', dir, start]);
      return start;
    });
    writeFileSync(
      join(taskDir, 'branch.json'),
      JSON.stringify({ baseCommit, branch, mirror } satisfies BranchMetadata),
    );
    writeAttemptMetadata(dir, { startCommit, collected: false });
    return {
      dir,
      readOnly: false,
      kind: 'worktree',
      baseCommit,
      branch,
      startCommit,
      gitDir: worktreeGitDir(mirror, dir),
      mirror,
    };
  }

  /**
   * Moves the work of earlier attempts that were never collected (their worker died mid-run) onto
   * the branch, so the next attempt continues it. Called under the mirror's lock, before the next
   * attempt's worktree exists; an earlier attempt's work that no longer fits (the branch moved on
   * since it started) stays in its worktree and is logged.
   */
  async #carryOver(task: TaskForWorkspace, taskDir: string, mirror: string, branch: string): Promise<void> {
    if (!existsSync(taskDir)) return;
    for (const entry of readdirSync(taskDir, { withFileTypes: true })) {
      const dir = join(taskDir, entry.name);
      const metadata = readJson<AttemptMetadata>(`${dir}.json`);
      if (!entry.isDirectory() || !metadata || metadata.collected || !existsSync(join(dir, '.git'))) continue;
      try {
        const head = await this.#commitWork(dir, worktreeGitDir(mirror, dir), task);
        await advanceBranch(mirror, branch, metadata.startCommit, head);
        writeAttemptMetadata(dir, { ...metadata, collected: true });
      } catch (error) {
        this.#settings.logger.warn(
          { err: error, taskId: task.id, dir },
          'could not carry an earlier attempt’s work over to the branch; it stays in its worktree',
        );
      }
    }
  }

  #scratch(dir: string, note: string): Workspace {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return { dir, readOnly: true, kind: 'scratch', note };
  }

  /** The bare local copy of `url`, cloned on first use and fetched when stale. */
  async #mirror(url: string): Promise<string> {
    const name = createHash('sha1').update(url).digest('hex').slice(0, 16);
    const mirror = join(this.#settings.mirrorsDir, `${name}.git`);
    this.#urls.set(mirror, url);
    await this.#locked(mirror, async () => {
      if (!existsSync(join(mirror, 'HEAD'))) {
        rmSync(mirror, { recursive: true, force: true });
        // `--` so a URL can never be read as an option (argument injection such as -u/--upload-pack).
        await git(['clone', '--bare', '--quiet', '--', url, mirror], {
          timeoutMs: 300_000,
          ...(await this.#credentials(url)),
        });
        await git([
          '--git-dir',
          mirror,
          'config',
          'remote.origin.fetch',
          '+refs/heads/*:refs/remotes/origin/*',
        ]);
        this.#lastFetch.delete(mirror);
      }
      const last = this.#lastFetch.get(mirror) ?? 0;
      if (Date.now() - last >= this.#settings.refreshMs) await this.#fetch(mirror);
    });
    return mirror;
  }

  /**
   * Fetches the upstream's branches and tags; with `pulls`, its pull-request heads too (GitHub's
   * `refs/pull/<n>/head`, where a fork's commits are; a remote without them fetches nothing more).
   */
  async #fetch(mirror: string, options: { pulls?: boolean } = {}): Promise<void> {
    const credentials = await this.#credentials(await this.#originOf(mirror));
    await git(
      [
        '--git-dir',
        mirror,
        'fetch',
        '--quiet',
        '--tags',
        'origin',
        '+refs/heads/*:refs/remotes/origin/*',
        ...(options.pulls ? ['+refs/pull/*/head:refs/remotes/origin/pull/*/head'] : []),
      ],
      { timeoutMs: 300_000, ...credentials },
    );
    // Asks the remote which branch is its default: that needs the credentials too.
    await git(['--git-dir', mirror, 'remote', 'set-head', 'origin', '--auto'], credentials).catch(
      () => undefined,
    );
    this.#lastFetch.set(mirror, Date.now());
    for (const key of this.#resolved.keys()) if (key.startsWith(`${mirror}\0`)) this.#resolved.delete(key);
  }

  /**
   * Pushes a mutating task's branch to the repository it came from, as `remoteBranch`. Only a
   * fast-forward: work someone else pushed to that branch is never overwritten.
   */
  async push(workspace: Workspace, remoteBranch: string): Promise<{ branch: string; commit: string }> {
    const { mirror, branch } = workspace;
    if (workspace.readOnly || !mirror || !branch) {
      throw new WorkspaceError('only a change task’s branch can be pushed');
    }
    const origin = await this.#originOf(mirror);
    const credentials = await this.#credentials(origin);
    return this.#locked(mirror, async () => {
      const commit = (await branchTip(mirror, branch))!;
      await git(
        ['--git-dir', mirror, 'push', '--quiet', '--', origin, `${commit}:refs/heads/${remoteBranch}`],
        { timeoutMs: 300_000, ...credentials },
      ).catch((error: unknown) => {
        if (error instanceof GitError && /\[rejected\]|non-fast-forward|fetch first/.test(error.stderr)) {
          throw new WorkspaceError(
            `the remote branch ${remoteBranch} has commits this change does not (someone else pushed to it): left as it was`,
            { cause: error },
          );
        }
        throw error;
      });
      return { branch: remoteBranch, commit };
    });
  }

  /** The URL a mirror was cloned from: remembered, or read back from its config after a restart. */
  async #originOf(mirror: string): Promise<string> {
    const known = this.#urls.get(mirror);
    if (known) return known;
    const url = (await git(['--git-dir', mirror, 'config', '--get', 'remote.origin.url'])).trim();
    this.#urls.set(mirror, url);
    return url;
  }

  async #credentials(url: string): Promise<{ env?: Record<string, string> }> {
    const env = await this.#settings.gitCredentials?.(url);
    return env ? { env } : {};
  }

  /** The commit a ref names: an upstream branch first, then a tag, a sha or a local branch. */
  async #resolve(mirror: string, ref: string | undefined): Promise<string> {
    const key = `${mirror}\0${ref ?? ''}`;
    const cached = this.#resolved.get(key);
    if (cached) return cached;
    const commit = this.#resolveUncached(mirror, ref);
    this.#resolved.set(key, commit);
    // A failed look-up is not remembered.
    commit.catch(() => {
      if (this.#resolved.get(key) === commit) this.#resolved.delete(key);
    });
    return commit;
  }

  async #resolveUncached(mirror: string, ref: string | undefined): Promise<string> {
    const candidates = ref ? [`refs/remotes/origin/${ref}`, ref] : ['refs/remotes/origin/HEAD', 'HEAD'];
    const lookUp = async () => {
      for (const candidate of candidates) {
        try {
          return (
            await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `${candidate}^{commit}`])
          ).trim();
        } catch {
          // try the next form
        }
      }
      return undefined;
    };
    // A ref younger than the last fetch (a commit pushed a moment ago, as a webhook announces it)
    // is fetched for rather than refused.
    const commit =
      (await lookUp()) ??
      (ref ? await this.#locked(mirror, () => this.#fetch(mirror, { pulls: true })).then(lookUp) : undefined);
    if (commit) return commit;
    throw new WorkspaceError(`ref "${ref ?? 'default branch'}" does not exist in the repository`);
  }

  async #locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.#locks.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function writeAttemptMetadata(dir: string, metadata: AttemptMetadata): void {
  writeFileSync(`${dir}.json`, JSON.stringify(metadata));
}

async function branchTip(mirror: string, branch: string): Promise<string | undefined> {
  return git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).then(
    (sha) => sha.trim(),
    () => undefined,
  );
}

/**
 * Moves `branch` from `from` to `to`, only if it is still at `from`: the work of an attempt that
 * started before the branch moved on (a late attempt) never overwrites its successor's.
 */
async function advanceBranch(mirror: string, branch: string, from: string, to: string): Promise<void> {
  if (from === to) return;
  try {
    await git(['--git-dir', mirror, 'update-ref', `refs/heads/${branch}`, to, from]);
  } catch (error) {
    throw new WorkspaceError(
      `branch ${branch} moved on while this attempt ran (another attempt changed it); this attempt's work stays at ${to}`,
      { cause: error },
    );
  }
}

/** Where git keeps a linked worktree's state in the mirror (checked, since git may add a suffix). */
function worktreeGitDir(mirror: string, dir: string): string {
  const gitDir = join(mirror, 'worktrees', basename(dir));
  const pointsBack = readFileSync(join(gitDir, 'gitdir'), 'utf8').trim();
  if (pointsBack !== join(dir, '.git')) {
    throw new WorkspaceError(`git keeps the worktree ${dir} somewhere unexpected (${pointsBack})`);
  }
  return gitDir;
}
