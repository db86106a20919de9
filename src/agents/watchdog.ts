import type { StopCause } from './run-verdict.ts';

/**
 * When to stop an agent that will not stop by itself. Pure: the driver calls it on a timer with
 * the clock and what the stream has shown so far.
 */
export interface WatchdogLimits {
  /** No event for this long while no tool is running means the run has stalled. */
  idleMs: number;
  /** While a tool runs (tests, builds) events pause legitimately, up to this long. */
  toolIdleMs: number;
  /** The whole attempt, however busy. */
  wallClockMs: number;
  /** Live spend, priced from the stream's usage. */
  budgetUsd: number;
}

export interface WatchdogReading {
  startedAt: number;
  lastEventAt: number;
  toolRunning: boolean;
  /** The agent waits for a person to approve a tool call: that silence is not a stall. */
  waitingForPerson?: boolean;
  spentUsd: number;
}

export function watchdogVerdict(
  reading: WatchdogReading,
  now: number,
  limits: WatchdogLimits,
): StopCause | undefined {
  if (now - reading.startedAt >= limits.wallClockMs)
    return { kind: 'wall_clock', limitMs: limits.wallClockMs };
  if (reading.spentUsd > limits.budgetUsd)
    return { kind: 'budget', limitUsd: limits.budgetUsd, spentUsd: reading.spentUsd };
  if (reading.waitingForPerson) return undefined;
  const idle = now - reading.lastEventAt;
  if (idle >= (reading.toolRunning ? limits.toolIdleMs : limits.idleMs))
    return { kind: 'inactivity', idleMs: idle };
  return undefined;
}
