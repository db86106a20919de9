import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Live processes whose working directory is inside `dir`: an agent and anything its tools
 * started run in the task's workspace, so after a run this must be empty.
 */
export function processesUnder(dir: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (cwd.startsWith(dir) && state !== 'Z') {
        found.push({
          pid: Number(entry),
          cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '),
        });
      }
    } catch {
      // the process ended while we looked, or is not ours to read
    }
  }
  return found;
}
