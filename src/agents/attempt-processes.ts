import { readdirSync, readFileSync } from 'node:fs';

/**
 * Finds and stops every process an attempt's agent started, wherever it went. The agent leads its
 * own process group, but its tools need not stay in it: Claude Code runs Bash commands in groups
 * of their own, and a command may `setsid` or daemonize. What they all keep is the environment
 * they inherited, so each agent process carries `SUPERVISOR_ATTEMPT_ID=<attempt id>` and this
 * scans `/proc/<pid>/environ` for it (a process that clears its whole environment escapes; an
 * operating-system sandbox, a container or cgroup, is what stops that). Reading another user's
 * environment needs root, which is what running agents as `AGENT_USER` takes anyway.
 */

export const ATTEMPT_MARKER = 'SUPERVISOR_ATTEMPT_ID';

/** The pids of live processes that carry this attempt's marker (never this process). */
export function attemptProcesses(attemptId: string): number[] {
  const marker = Buffer.from(`${ATTEMPT_MARKER}=${attemptId}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    // Each variable ends with NUL; matching from a NUL (or the start) avoids a longer name's suffix.
    const at = environ.indexOf(marker);
    if (at === 0 || (at > 0 && environ[at - 1] === 0)) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILLs every process of the attempt; returns how many there were. */
export function killAttemptProcesses(attemptId: string): number {
  let killed = 0;
  for (const pid of attemptProcesses(attemptId)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed += 1;
    } catch {
      // gone in the meantime
    }
  }
  return killed;
}
