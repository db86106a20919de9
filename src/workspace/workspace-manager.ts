import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { isMutatingTaskType, type TaskPayload, type TaskType } from '../core/task-types.ts';
import { git } from './git.ts';
import { type RepositoryPolicy, repositoryRefusal } from './repository-policy.ts';
import { resolveRepository, type SourceSettings } from './repository-source.ts';

/**
 * Isolated places for agents to work, made from a shared local copy of each repository.
 *
 * - Each repository is cloned once (bare) under `mirrorsDir` and fetched again when older than
 *   `refreshMs`. Upstream branches land in `refs/remotes/origin/*`; the supervisor's own branches
 *   live in `refs/heads/supervisor/*`, which a fetch never touches.
 * - Read-only tasks get a detached worktree at the requested ref, removed after the attempt.
 *   An issue summary whose repository cannot be fetched gets a scratch directory; any other task
 *   whose repository cannot be checked out fails before an agent runs.
 * - Mutating tasks get their own worktree on a new branch `supervisor/<task id>`, kept across
 *   attempts (a retry continues the work) and removed after the retention period. Branches are
 *   never deleted and the source repository is never written to.
 */

export interface Workspace {
  dir: string;
  readOnly: boolean;
  kind: 'worktree' | 'scratch';
  /** The commit the work starts from. */
  baseCommit?: string;
  branch?: string;
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
  base_commit: string;
  head_commit: string;
  commits: Array<{ sha: string; subject: string }>;
  files_changed: number;
  insertions: number;
  deletions: number;
  diff: string;
  diff_truncated: boolean;
}

export interface WorkspaceSettings extends SourceSettings {
  repositoryPolicy: RepositoryPolicy;
  workspacesDir: string;
  mirrorsDir: string;
  refreshMs: number;
  logger: Logger;
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

interface Metadata {
  baseCommit: string;
  branch: string;
  mirror: string;
}

export class WorkspaceManager {
  readonly #settings: WorkspaceSettings;
  readonly #lastFetch = new Map<string, number>();
  /** Ref → commit per mirror, valid until the mirror is fetched again. */
  readonly #resolved = new Map<string, string>();
  /** One git operation per mirror at a time: concurrent fetches and worktree adds fight over locks. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(settings: WorkspaceSettings) {
    this.#settings = settings;
    mkdirSync(settings.workspacesDir, { recursive: true });
    mkdirSync(settings.mirrorsDir, { recursive: true });
  }

  dirFor(taskId: string): string {
    return join(this.#settings.workspacesDir, taskId);
  }

  async prepare(task: TaskForWorkspace): Promise<Workspace> {
    const payload = task.payload as Record<string, unknown>;
    const refusal = repositoryRefusal(String(payload.repository), this.#settings.repositoryPolicy);
    const source = refusal
      ? ({ ok: false, reason: refusal } as const)
      : resolveRepository(String(payload.repository), this.#settings);
    const dir = this.dirFor(task.id);

    if (isMutatingTaskType(task.type)) {
      if (!source.ok) throw new WorkspaceError(source.reason);
      return this.#mutatingWorktree(task.id, dir, source.url, optionalString(payload.base_ref));
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
        rmSync(dir, { recursive: true, force: true });
        // -f: an earlier attempt's worktree may still be registered (its directory is gone);
        // the sweeper prunes such records in bulk, off the path of a running task.
        await git(['--git-dir', mirror, 'worktree', 'add', '-f', '--detach', dir, commit]);
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
    if (workspace.readOnly || !workspace.branch || !workspace.baseCommit || !workspace.gitDir)
      return undefined;
    // Explicit directories: the worktree may belong to the agent's user, and its `.git` file and
    // config are the agent's to change, so git must not discover anything from it.
    const inWorktree = ['--git-dir', workspace.gitDir, '--work-tree', workspace.dir];
    const treeGit = (args: string[], options: { maxBytes?: number } = {}) =>
      git([...inWorktree, ...args], { cwd: workspace.dir, ...options });
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
    const head = (await treeGit(['rev-parse', 'HEAD'])).trim();
    const log = await treeGit(['log', '--format=%H%x00%s', `${workspace.baseCommit}..${head}`]);
    const commits = log
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [sha, subject] = line.split('\0');
        return { sha: sha!, subject: subject ?? '' };
      });
    const stat = await treeGit(['diff', '--shortstat', workspace.baseCommit, head]);
    const fullDiff = await treeGit(['diff', workspace.baseCommit, head], { maxBytes: 256 * 1024 * 1024 });
    const truncated = Buffer.byteLength(fullDiff) > MAX_DIFF_BYTES;
    return {
      branch: workspace.branch,
      base_commit: workspace.baseCommit,
      head_commit: head,
      commits,
      files_changed: Number(/(\d+) files? changed/.exec(stat)?.[1] ?? 0),
      insertions: Number(/(\d+) insertions?/.exec(stat)?.[1] ?? 0),
      deletions: Number(/(\d+) deletions?/.exec(stat)?.[1] ?? 0),
      diff: truncated ? Buffer.from(fullDiff).subarray(0, MAX_DIFF_BYTES).toString('utf8') : fullDiff,
      diff_truncated: truncated,
    };
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
   * Removes a workspace an attempt no longer needs: read-only ones at once (just the files; the
   * sweeper prunes git's record of them), mutating ones never here.
   */
  async release(workspace: Workspace): Promise<void> {
    if (workspace.readOnly) rmSync(workspace.dir, { recursive: true, force: true });
  }

  /**
   * Removes workspaces (worktree and metadata) of tasks that are done and older than the
   * retention period. `keep(taskId)` says whether a task still needs its workspace.
   */
  async sweep(keep: (taskId: string) => Promise<boolean>): Promise<number> {
    for (const entry of readdirSync(this.#settings.mirrorsDir)) {
      const mirror = join(this.#settings.mirrorsDir, entry);
      await this.#locked(mirror, () =>
        git(['--git-dir', mirror, 'worktree', 'prune']).catch(() => undefined),
      );
    }
    let removed = 0;
    for (const entry of readdirSync(this.#settings.workspacesDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (await keep(entry.name)) continue;
      await this.#remove(join(this.#settings.workspacesDir, entry.name));
      removed += 1;
    }
    return removed;
  }

  async #remove(dir: string): Promise<void> {
    const metadata = readMetadata(`${dir}.json`);
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
    taskId: string,
    dir: string,
    url: string,
    baseRef: string | undefined,
  ): Promise<Workspace> {
    const branch = `supervisor/${taskId}`;
    const existing = readMetadata(`${dir}.json`);
    if (existing && existsSync(join(dir, '.git'))) {
      // A later attempt of the same task continues in the same worktree and branch.
      const gitDir = worktreeGitDir(existing.mirror, dir);
      return {
        dir,
        readOnly: false,
        kind: 'worktree',
        baseCommit: existing.baseCommit,
        branch,
        gitDir,
        mirror: existing.mirror,
      };
    }
    const mirror = await this.#mirror(url);
    const baseCommit = existing?.baseCommit ?? (await this.#resolve(mirror, baseRef));
    await this.#locked(mirror, async () => {
      rmSync(dir, { recursive: true, force: true });
      const branchExists = await git([
        '--git-dir',
        mirror,
        'rev-parse',
        '--verify',
        '--quiet',
        `refs/heads/${branch}`,
      ]).then(
        () => true,
        () => false,
      );
      await git([
        '--git-dir',
        mirror,
        'worktree',
        'add',
        ...(branchExists ? [dir, branch] : ['-b', branch, dir, baseCommit]),
      ]);
    });
    writeFileSync(`${dir}.json`, JSON.stringify({ baseCommit, branch, mirror } satisfies Metadata));
    return {
      dir,
      readOnly: false,
      kind: 'worktree',
      baseCommit,
      branch,
      gitDir: worktreeGitDir(mirror, dir),
      mirror,
    };
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
    await this.#locked(mirror, async () => {
      if (!existsSync(join(mirror, 'HEAD'))) {
        rmSync(mirror, { recursive: true, force: true });
        // `--` so a URL can never be read as an option (argument injection such as -u/--upload-pack).
        await git(['clone', '--bare', '--quiet', '--', url, mirror], { timeoutMs: 300_000 });
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
      if (Date.now() - last >= this.#settings.refreshMs) {
        await git(['--git-dir', mirror, 'fetch', '--quiet', '--tags', 'origin'], { timeoutMs: 300_000 });
        await git(['--git-dir', mirror, 'remote', 'set-head', 'origin', '--auto']).catch(() => undefined);
        this.#lastFetch.set(mirror, Date.now());
        for (const key of this.#resolved.keys())
          if (key.startsWith(`${mirror}\0`)) this.#resolved.delete(key);
      }
    });
    return mirror;
  }

  /** The commit a ref names: an upstream branch first, then a tag, a sha or a local branch. */
  async #resolve(mirror: string, ref: string | undefined): Promise<string> {
    const key = `${mirror}\0${ref ?? ''}`;
    const cached = this.#resolved.get(key);
    if (cached) return cached;
    const commit = await this.#resolveUncached(mirror, ref);
    this.#resolved.set(key, commit);
    return commit;
  }

  async #resolveUncached(mirror: string, ref: string | undefined): Promise<string> {
    const candidates = ref ? [`refs/remotes/origin/${ref}`, ref] : ['refs/remotes/origin/HEAD', 'HEAD'];
    for (const candidate of candidates) {
      try {
        return (
          await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `${candidate}^{commit}`])
        ).trim();
      } catch {
        // try the next form
      }
    }
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

function readMetadata(path: string): Metadata | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Metadata;
  } catch {
    return undefined;
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
