import type { TaskView } from '../api/schemas.ts';

/**
 * Pure text for `submit --wait` and `logs -f`: the one-line spinner shown on a terminal and the
 * summary printed when the task ends. The terminal I/O lives in spinner.ts.
 */

export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

export interface ProgressState {
  status: string;
  /** Attempts started so far (0 while the task waits for its first). */
  attempt: number;
  /** Type of the newest event other than `status`, e.g. `assistant` or `echo.started`. */
  lastEvent?: string;
  /** When the clock starts, in epoch milliseconds. */
  since: number;
}

/** `850ms`, `4.2s`, `1m 05s`, `2h 03m`. Negative input (clock skew) counts as zero. */
export function formatElapsed(ms: number): string {
  const safe = Math.max(0, Math.floor(ms));
  if (safe < 1000) return `${safe}ms`;
  if (safe < 60_000) return `${(safe / 1000).toFixed(1)}s`;
  const seconds = Math.floor(safe / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** Cuts `text` to `columns` characters (with an ellipsis) so a rewritten line never wraps. */
export function fitToWidth(text: string, columns: number | undefined): string {
  if (!columns || columns < 2) return text;
  const chars = [...text];
  return chars.length < columns ? text : `${chars.slice(0, columns - 2).join('')}…`;
}

/** One spinner line: `⠹ running · 12.0s · attempt 1 · last echo.started`. */
export function progressLine(state: ProgressState, now: number, tick: number, columns?: number): string {
  const frame = SPINNER_FRAMES[Math.abs(tick) % SPINNER_FRAMES.length];
  const parts = [
    `${frame} ${state.status}`,
    formatElapsed(now - state.since),
    state.attempt > 0 ? `attempt ${state.attempt}` : 'no attempt yet',
  ];
  if (state.lastEvent) parts.push(`last ${state.lastEvent}`);
  return fitToWidth(parts.join(' · '), columns);
}

interface WorkspaceChange {
  branch?: string;
  files_changed?: number;
  insertions?: number;
  deletions?: number;
  commits?: unknown[];
  diff_truncated?: boolean;
}

/** The change a mutating task left on its branch, if its result names one. */
export function workspaceChange(task: TaskView): WorkspaceChange | undefined {
  const data = task.result?.data as { workspace?: WorkspaceChange } | null | undefined;
  return data?.workspace && typeof data.workspace.branch === 'string' ? data.workspace : undefined;
}

/** How long the task ran: first start (or creation) to finish (or last update). */
export function taskDuration(task: TaskView): number | undefined {
  const from = Date.parse(task.started_at ?? task.created_at);
  const to = Date.parse(task.finished_at ?? task.updated_at);
  return Number.isNaN(from) || Number.isNaN(to) ? undefined : Math.max(0, to - from);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The summary printed to stdout once `submit --wait` or `logs -f` sees the task end. */
export function taskSummary(task: TaskView): string {
  const duration = taskDuration(task);
  const lines = [
    `── ${task.id} ──`,
    `status     ${task.status}${task.outcome ? ` (outcome: ${task.outcome})` : ''}`,
    `attempts   ${task.attempts.count} (budget ${task.attempts.max})`,
    `duration   ${duration === undefined ? '-' : formatElapsed(duration)}`,
    `cost       $${task.cost.usd.toFixed(4)}   tokens in ${task.cost.input_tokens} / out ${task.cost.output_tokens}` +
      (task.cost.cache_read_tokens || task.cost.cache_write_tokens
        ? ` (cache read ${task.cost.cache_read_tokens} / write ${task.cost.cache_write_tokens})`
        : ''),
  ];
  const change = workspaceChange(task);
  if (change) {
    const stats = [
      `${plural(change.files_changed ?? 0, 'file')} changed`,
      `+${change.insertions ?? 0}`,
      `-${change.deletions ?? 0}`,
    ];
    if (change.commits) stats.push(plural(change.commits.length, 'commit'));
    lines.push(
      `branch     ${change.branch}   ${stats.join(', ')}${change.diff_truncated ? ' (stored diff truncated)' : ''}`,
    );
  }
  if (task.error) lines.push(`error      ${task.error}`);
  return lines.join('\n');
}
