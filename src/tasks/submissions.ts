import { appendAudit } from '../audit/audit-log.ts';
import { isTerminal } from '../core/task-status.ts';
import type { Tx } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import type { SubmissionTaskState } from '../store/submission-store.ts';
import * as submissions from '../store/submission-store.ts';

/** Tasks named in a batch summary, at most: the message stays short for a 50-task batch. */
const LISTED_TASKS = 10;

/**
 * Closes the batch submissions that `ended` tasks were the last to end of, in the transaction that
 * ended them: each is locked (in id order, after every task lock the caller takes, so two closings
 * never wait on each other), checked, and closed with a `submission.finished` audit record, from
 * which the batch summary is sent (src/notify). Of two tasks ending at once, the second to take the
 * lock sees the first's committed end, so exactly one of them closes the submission.
 */
export async function closeFinishedSubmissions(tx: Tx, ended: TaskRow[], now: Date): Promise<void> {
  const ids = [
    ...new Set(
      ended.flatMap((task) => (task.submissionId && isTerminal(task.status) ? [task.submissionId] : [])),
    ),
  ].sort();
  for (const id of ids) {
    const submission = await submissions.lockOpenSubmission(tx, id);
    if (!submission) continue; // closed already
    const states = await submissions.submissionTasks(tx, id);
    if (!states.every((task) => isTerminal(task.status))) continue;
    await submissions.closeSubmission(tx, id, now);
    await appendAudit(tx, {
      at: now,
      actor: 'supervisor',
      action: 'submission.finished',
      taskId: null,
      details: {
        submission: id,
        submittedBy: submission.submittedBy,
        durationSeconds: Math.round((now.getTime() - submission.createdAt.getTime()) / 1000),
        ...submissionSummary(states),
      },
    });
  }
}

export interface SubmissionSummary {
  tasks: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Outcomes of the tasks that did not succeed, with counts: `{ dependency_failed: 2 }`. */
  outcomes: Record<string, number>;
  costUsd: number;
  /** The first tasks that did not succeed, for the message to name. */
  unsuccessful: Array<{ id: string; outcome: string }>;
}

/** Counts by status and outcome and the spend of a finished submission's tasks. Pure. */
export function submissionSummary(states: SubmissionTaskState[]): SubmissionSummary {
  const count = (status: string) => states.filter((task) => task.status === status).length;
  const unsuccessful = states.filter((task) => task.status !== 'succeeded');
  const outcomes: Record<string, number> = {};
  for (const task of unsuccessful) {
    const outcome = task.outcome ?? task.status;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return {
    tasks: states.length,
    succeeded: count('succeeded'),
    failed: count('failed'),
    cancelled: count('cancelled'),
    outcomes,
    costUsd: Math.round(states.reduce((sum, task) => sum + task.costUsd, 0) * 1e6) / 1e6,
    unsuccessful: unsuccessful
      .slice(0, LISTED_TASKS)
      .map((task) => ({ id: task.id, outcome: task.outcome ?? task.status })),
  };
}
