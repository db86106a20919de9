import { describe, expect, it } from 'vitest';
import { watchdogVerdict } from './watchdog.ts';

const limits = { idleMs: 1000, toolIdleMs: 5000, wallClockMs: 10_000, budgetUsd: 1 };
const reading = { startedAt: 0, lastEventAt: 0, toolRunning: false, spentUsd: 0 };

describe('watchdogVerdict', () => {
  it('lets a lively run go on', () => {
    expect(watchdogVerdict({ ...reading, lastEventAt: 900 }, 1000, limits)).toBeUndefined();
  });

  it('stops a silent run while no tool is running', () => {
    expect(watchdogVerdict(reading, 1000, limits)).toEqual({ kind: 'inactivity', idleMs: 1000 });
  });

  it('gives a running tool longer', () => {
    expect(watchdogVerdict({ ...reading, toolRunning: true }, 4999, limits)).toBeUndefined();
    expect(watchdogVerdict({ ...reading, toolRunning: true }, 5000, limits)).toEqual({
      kind: 'inactivity',
      idleMs: 5000,
    });
  });

  it('does not count a wait for a person as idle, but keeps the wall clock', () => {
    const waiting = { ...reading, toolRunning: true, waitingForPerson: true };
    expect(watchdogVerdict(waiting, 9999, limits)).toBeUndefined();
    expect(watchdogVerdict(waiting, 10_000, limits)).toEqual({ kind: 'wall_clock', limitMs: 10_000 });
  });

  it('enforces the wall clock however busy the run is', () => {
    expect(watchdogVerdict({ ...reading, lastEventAt: 9999 }, 10_000, limits)).toEqual({
      kind: 'wall_clock',
      limitMs: 10_000,
    });
  });

  it('stops a run over its budget', () => {
    expect(watchdogVerdict({ ...reading, lastEventAt: 10, spentUsd: 1.5 }, 20, limits)).toEqual({
      kind: 'budget',
      limitUsd: 1,
      spentUsd: 1.5,
    });
  });
});
