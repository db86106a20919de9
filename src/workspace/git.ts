import { execFile } from 'node:child_process';

const DIRECTORY_OPTIONS = new Set(['--git-dir', '--work-tree', '-C']);

/** git commands run by the supervisor itself (never by an agent). Arguments are arrays, never a shell string. */
export class GitError extends Error {
  readonly stderr: string;
  constructor(args: string[], stderr: string, options: { cause?: unknown } = {}) {
    // The command without the directories it ran on, and what git said without its hints.
    const command = args.filter(
      (arg, i) => !DIRECTORY_OPTIONS.has(arg) && !DIRECTORY_OPTIONS.has(args[i - 1]!),
    );
    const said = stderr
      .trim()
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('hint:'));
    super(`git ${command.slice(0, 3).join(' ')} failed: ${said.slice(-2).join(' ') || 'no output'}`, options);
    this.name = 'GitError';
    this.stderr = stderr;
  }
}

// Built from scratch like an agent's: the supervisor's own environment holds credentials git has no use for.
const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  LANG: 'C.UTF-8',
  GIT_TERMINAL_PROMPT: '0',
  // Only plain transports: `ext::` and `fd::` run commands or read descriptors named by a URL.
  GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
  GIT_AUTHOR_NAME: 'Supervisor',
  GIT_AUTHOR_EMAIL: 'supervisor@supervisor.invalid',
  GIT_COMMITTER_NAME: 'Supervisor',
  GIT_COMMITTER_EMAIL: 'supervisor@supervisor.invalid',
};

export function git(
  args: string[],
  options: { cwd?: string; timeoutMs?: number; maxBytes?: number; env?: Record<string, string> } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd: options.cwd,
        env: options.env ? { ...GIT_ENV, ...options.env } : GIT_ENV,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: options.maxBytes ?? 16 * 1024 * 1024,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new GitError(args, `${stderr}${error.killed ? ' (timed out)' : ''}`, { cause: error }));
        else resolve(stdout);
      },
    );
  });
}
