import { describe, expect, it } from 'vitest';
import { cronProblem, nextRun } from './cron.ts';

describe('cron', () => {
  it('finds the next run in UTC', () => {
    expect(nextRun('*/15 * * * *', new Date('2026-11-24T10:07:00Z')).toISOString()).toBe(
      '2026-11-24T10:15:00.000Z',
    );
    expect(nextRun('0 6 * * 1-5', new Date('2026-11-27T06:00:00Z')).toISOString()).toBe(
      '2026-11-30T06:00:00.000Z',
    );
  });

  it('says what is wrong with an expression', () => {
    expect(cronProblem('0 6 * * 1-5')).toBeUndefined();
    expect(cronProblem('61 * * * *')).toContain('expected range 0-59');
    expect(cronProblem('* * * *')).toContain('expected five fields');
    expect(cronProblem('@hourly')).toContain('expected five fields');
  });
});
