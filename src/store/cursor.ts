/**
 * Opaque page cursors for newest-first listings. A cursor names the last row of a page by its
 * (created_at, id) pair, which is unique and matches the listing's sort order, so pages never skip
 * or repeat rows even while new tasks arrive.
 */
export interface CursorPosition {
  createdAt: Date;
  id: string;
}

import { isStorableTime } from '../core/timestamps.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(`${position.createdAt.getTime()}:${position.id}`).toString('base64url');
}

/** The position a cursor names, or `undefined` if it is not one this server made. */
export function decodeCursor(cursor: string): CursorPosition | undefined {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,15}):(.+)$/.exec(decoded);
  if (!match || !UUID.test(match[2]!) || !isStorableTime(Number(match[1]))) return undefined;
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}
