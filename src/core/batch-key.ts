import { canonicalJson } from './canonical-json.ts';
import { READ_ONLY_TASK_TYPES, type TaskPayload, type TaskType } from './task-types.ts';

/**
 * Which tasks may share one agent session (batching, `batch: true`). Tasks share a session only
 * when one workspace serves them all, so the key holds the type, the repository and whatever picks
 * the checkout: the refs, and for a review whether the diff came inline or from the refs. Two
 * tasks with the same key would get identical workspaces; anything else would need a second one.
 */
export function batchKey(type: TaskType, payload: TaskPayload): string {
  const p = payload as Record<string, unknown>;
  const workspace =
    type === 'PR_REVIEW'
      ? {
          base_ref: p.base_ref ?? null,
          head_ref: p.head_ref ?? null,
          inline_diff: typeof p.diff === 'string',
        }
      : type === 'CODE_ANALYSIS'
        ? { ref: p.ref ?? null }
        : {};
  return canonicalJson({ type, repository: p.repository, ...workspace });
}

/** Only read-only work is batched: a mutating task needs a worktree and a branch of its own. */
export const isBatchableType = (type: TaskType): boolean => READ_ONLY_TASK_TYPES.has(type);

/**
 * Why a submission with `batch: true` cannot be batched, or undefined when it can. A task's own
 * spend or time limit is refused rather than ignored: a shared session can honour neither for one
 * of its items.
 */
export function batchRefusal(submission: {
  type: TaskType;
  max_cost_usd?: number | undefined;
  max_duration_seconds?: number | undefined;
}): string | undefined {
  if (!isBatchableType(submission.type)) {
    return `only read-only task types (${[...READ_ONLY_TASK_TYPES].join(', ')}) can be batched; ${submission.type} changes code in a worktree of its own, so drop "batch"`;
  }
  if (submission.max_cost_usd !== undefined || submission.max_duration_seconds !== undefined) {
    return 'batch cannot be combined with max_cost_usd or max_duration_seconds: a shared agent session cannot keep one item to its own limit; drop one of them';
  }
  return undefined;
}
