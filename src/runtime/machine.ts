import { readFileSync, statfsSync } from 'node:fs';
import { freemem } from 'node:os';
import type { MachineFacts } from '../core/machine-room.ts';

const MIB = 1024 * 1024;

/**
 * Memory available to a new process and free disk space under `workspacesDir`, now. MemAvailable
 * (Linux) counts reclaimable caches, which `os.freemem()` does not; elsewhere freemem() it is.
 */
export function readMachineFacts(workspacesDir: string): MachineFacts {
  const disk = statfsSync(workspacesDir);
  return { availableMemoryMb: availableMemoryBytes() / MIB, freeDiskMb: (disk.bavail * disk.bsize) / MIB };
}

function availableMemoryBytes(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return freemem();
}
