import { z } from 'zod';

/** The range of times the API accepts: what PostgreSQL's timestamptz holds with room to spare. */
const EARLIEST_MS = Date.UTC(1970, 0, 1);
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function isStorableTime(ms: number): boolean {
  return Number.isFinite(ms) && ms >= EARLIEST_MS && ms <= LATEST_MS;
}

/** An ISO 8601 time with an offset, between 1970 and the end of 9999 (after applying the offset). */
export const isoDateTime = z.iso
  .datetime({ offset: true })
  .refine((value) => isStorableTime(Date.parse(value)), {
    error: 'expected a time between 1970-01-01 and 9999-12-31 (UTC)',
  });
