/**
 * Whether a worker's machine has room for one more agent: each Claude Code process takes a few
 * hundred MiB of memory and each attempt a worktree on disk. A run that would not fit is not
 * started (its task waits for a slot, with this reason shown) rather than started and killed.
 */

export interface MachineFacts {
  /** Memory the kernel can give a new process without swapping (MemAvailable), in MiB. */
  availableMemoryMb: number;
  /** Free space where workspaces live, in MiB. */
  freeDiskMb: number;
}

export interface MachineMinimums {
  /** AGENT_MIN_FREE_MEMORY_MB (0: not checked). */
  memoryMb: number;
  /** AGENT_MIN_FREE_DISK_MB (0: not checked). */
  diskMb: number;
}

/** What this machine lacks to start another agent, in words, or undefined when it has room. */
export function machineShortfall(facts: MachineFacts, minimums: MachineMinimums): string | undefined {
  const short = [
    facts.availableMemoryMb < minimums.memoryMb
      ? `${Math.floor(facts.availableMemoryMb)} MiB of memory available, below AGENT_MIN_FREE_MEMORY_MB (${minimums.memoryMb})`
      : undefined,
    facts.freeDiskMb < minimums.diskMb
      ? `${Math.floor(facts.freeDiskMb)} MiB free for workspaces, below AGENT_MIN_FREE_DISK_MB (${minimums.diskMb})`
      : undefined,
  ].filter((text): text is string => text !== undefined);
  return short.length ? `this worker's machine has ${short.join(' and ')}` : undefined;
}
