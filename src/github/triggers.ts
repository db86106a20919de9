import { z } from 'zod';
import { LIMITS, type PrReviewPayload } from '../core/task-types.ts';

/**
 * Which webhook deliveries start which tasks. Pure: the parts of GitHub's payloads we read are
 * checked here, and a delivery either names a task to start or says why it starts none.
 */

const repository = z.object({ full_name: z.string().regex(/^[\w.-]+\/[\w.-]+$/) });

const pullRequestEvent = z.object({
  action: z.string(),
  installation: z.object({ id: z.number().int().positive() }).optional(),
  repository,
  pull_request: z.object({
    number: z.number().int().positive(),
    title: z.string(),
    body: z.string().nullable().optional(),
    draft: z.boolean().optional(),
    head: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/), repo: repository.nullable().optional() }),
    base: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) }),
  }),
});

/** The pull-request actions after which the head commit has not been reviewed yet. */
const REVIEWED_ACTIONS = new Set(['opened', 'synchronize', 'ready_for_review', 'reopened']);

export interface ReviewTrigger {
  kind: 'pr_review';
  repository: string;
  installationId: number | null;
  pullNumber: number;
  headSha: string;
  payload: PrReviewPayload;
}

export type Trigger = ReviewTrigger | { kind: 'none'; reason: string };

export function triggerFor(event: string, body: unknown): Trigger {
  if (event !== 'pull_request') return { kind: 'none', reason: `no trigger for ${event} events` };
  const parsed = pullRequestEvent.safeParse(body);
  if (!parsed.success) {
    return { kind: 'none', reason: `not a pull_request payload: ${z.prettifyError(parsed.error)}` };
  }
  const { action, pull_request: pr, installation } = parsed.data;
  if (!REVIEWED_ACTIONS.has(action))
    return { kind: 'none', reason: `pull_request.${action} is not reviewed` };
  if (pr.draft) return { kind: 'none', reason: 'draft pull requests are reviewed when marked ready' };
  const name = parsed.data.repository.full_name;
  return {
    kind: 'pr_review',
    repository: name,
    installationId: installation?.id ?? null,
    pullNumber: pr.number,
    headSha: pr.head.sha,
    payload: {
      repository: name,
      pr_number: pr.number,
      title: pr.title.slice(0, LIMITS.shortTextChars) || '(untitled)',
      ...(pr.body ? { description: pr.body.slice(0, LIMITS.longTextChars) } : {}),
      // Commits rather than branch names: the review is of exactly the head GitHub announced.
      base_ref: pr.base.sha,
      head_ref: pr.head.sha,
    },
  };
}
