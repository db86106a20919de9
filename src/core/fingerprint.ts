import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { TaskPayload, TaskType } from './task-types.ts';

/**
 * The content fingerprint deduplication compares: SHA-256 of the task type and its whole payload,
 * which carries the repository and the refs (`ref`, `base_ref`, `head_ref`) exactly as submitted.
 * Refs are not resolved to commits here (only a worker does that), so the same branch name at a
 * later commit has the same fingerprint. Scheduling options (priority, run_after, limits) are left
 * out: they change when and how a task runs, not what it does.
 *
 * The only normalisation is CRLF → LF in every string and key order (canonical JSON): a diff pasted
 * from Windows and the same diff from Linux are one change, while any other difference in content,
 * whitespace included, gives another fingerprint, so two different diffs are never merged.
 */
export function taskFingerprint(type: TaskType, payload: TaskPayload): string {
  return createHash('sha256')
    .update(canonicalJson({ type, payload: normaliseLineEndings(payload) }))
    .digest('hex');
}

function normaliseLineEndings(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\r\n', '\n');
  if (Array.isArray(value)) return value.map(normaliseLineEndings);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normaliseLineEndings(item)]));
  }
  return value;
}
