import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';

/**
 * The unprivileged user agent processes run as (AGENT_USER), so that what an allowed command does
 * — a test runner executing code the agent wrote — meets the operating system's permissions, not
 * only Claude Code's. Only a supervisor running as root can switch users.
 */
export interface AgentUser {
  name: string;
  uid: number;
  gid: number;
}

export function resolveAgentUser(name: string): AgentUser {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `AGENT_USER=${name} needs the supervisor to run as root (it starts each agent as that user); unset it, or run the supervisor as root`,
    );
  }
  const id = (flag: string) => {
    try {
      return Number(execFileSync('id', [flag, '--', name], { encoding: 'utf8', timeout: 5000 }).trim());
    } catch {
      throw new Error(`AGENT_USER=${name}: no such user on this host`);
    }
  };
  const user = { name, uid: id('-u'), gid: id('-g') };
  if (user.uid === 0) throw new Error(`AGENT_USER=${name} is root; name an unprivileged user`);
  return user;
}

/** Gives the agent's user a directory tree it must write (its worktree, its session state). */
export function handOver(paths: string[], user: AgentUser): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'chown',
      ['-R', '--no-dereference', `${user.uid}:${user.gid}`, '--', ...paths],
      { timeout: 120_000, killSignal: 'SIGKILL' },
      (error, _stdout, stderr) =>
        error
          ? reject(
              new Error(`could not hand ${paths.join(', ')} to ${user.name}: ${stderr || error.message}`),
            )
          : resolve(),
    );
  });
}

/**
 * Lets the agent's user reach its own directories by path without listing what else is there
 * (0711), and keeps the embedded database to the supervisor (0700).
 */
export function fenceDataDir(dirs: { traversable: string[]; private: string[] }): void {
  for (const dir of dirs.traversable) if (existsSync(dir)) chmodSync(dir, 0o711);
  for (const dir of dirs.private) if (existsSync(dir)) chmodSync(dir, 0o700);
}
