import { readFileSync } from 'node:fs';

/**
 * Stops an agent process group left behind by a worker that died on this host (the agent runs in
 * its own group, so it outlives a killed supervisor). Checks the pid still belongs to an agent
 * before killing, since pids are reused. Returns whether something was stopped.
 */
export function killOrphanedAgent(
  pid: number,
  isAgent: (cmdline: string) => boolean = (cmd) => cmd.includes('claude'),
): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return false; // gone already
  }
  if (!isAgent(cmdline)) return false;
  try {
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
