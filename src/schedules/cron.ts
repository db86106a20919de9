import { CronExpressionParser } from 'cron-parser';

/**
 * Cron expressions (five fields, UTC). Pure. A schedule runs at most once per tick for the
 * latest time it missed: a supervisor that was down for a day does not replay a day of runs.
 */
export function cronProblem(expression: string): string | undefined {
  if (expression.trim().split(/\s+/).length !== 5) {
    return 'expected five fields: minute hour day-of-month month day-of-week (UTC), e.g. "0 6 * * 1-5"';
  }
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC' });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The first time after `after` that the expression names. */
export function nextRun(expression: string, after: Date): Date {
  return CronExpressionParser.parse(expression, { currentDate: after, tz: 'UTC' }).next().toDate();
}
