import { describe, expect, it } from 'vitest';
import { machineShortfall } from './machine-room.ts';

describe('machineShortfall', () => {
  const minimums = { memoryMb: 300, diskMb: 1024 };

  it('has nothing to say when memory and disk are above their minimums', () => {
    expect(machineShortfall({ availableMemoryMb: 300, freeDiskMb: 1024 }, minimums)).toBeUndefined();
  });

  it('names what is short, by how much, and the setting', () => {
    expect(machineShortfall({ availableMemoryMb: 120.7, freeDiskMb: 5000 }, minimums)).toBe(
      "this worker's machine has 120 MiB of memory available, below AGENT_MIN_FREE_MEMORY_MB (300)",
    );
    expect(machineShortfall({ availableMemoryMb: 100, freeDiskMb: 10 }, minimums)).toBe(
      "this worker's machine has 100 MiB of memory available, below AGENT_MIN_FREE_MEMORY_MB (300) and 10 MiB free for workspaces, below AGENT_MIN_FREE_DISK_MB (1024)",
    );
  });

  it('checks nothing when both minimums are 0', () => {
    expect(
      machineShortfall({ availableMemoryMb: 0, freeDiskMb: 0 }, { memoryMb: 0, diskMb: 0 }),
    ).toBeUndefined();
  });
});
