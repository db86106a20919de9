import { z } from 'zod';
import { LIMITS, type PrReviewPayload } from '../core/task-types.ts';

/**
 * Which webhook deliveries start which tasks. Pure: the parts of GitHub's payloads we read are
 * checked here, and a delivery either names a task to start or says why it starts none.
 */

const repository = z.object({ full_name: z.string().regex(/^[\w.-]+\/[\w.-]+$/) });

const pullRequest = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullable().optional(),
  draft: z.boolean().optional(),
  html_url: z.string().optional(),
  head: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/), repo: repository.nullable().optional() }),
  base: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) }),
});
export type PullRequest = z.infer<typeof pullRequest>;

const installation = z.object({ id: z.number().int().positive() }).optional();

const pullRequestEvent = z.object({
  action: z.string(),
  installation,
  repository,
  pull_request: pullRequest,
});

const sender = z.object({ login: z.string(), type: z.string() });

const issuesEvent = z.object({
  action: z.string(),
  installation,
  repository,
  issue: z.object({ number: z.number().int().positive() }),
  label: z.object({ name: z.string() }).optional(),
  sender,
});

const reviewEvent = z.object({
  action: z.string(),
  installation,
  repository,
  pull_request: z.object({ number: z.number().int().positive() }),
  review: z.object({ id: z.number().int().positive(), body: z.string().nullable(), state: z.string() }),
  sender,
});

const checkRunEvent = z.object({
  action: z.string(),
  installation,
  repository,
  check_run: z.object({
    id: z.number().int().positive(),
    name: z.string(),
    head_sha: z.string(),
    conclusion: z.string().nullable(),
    output: z
      .object({
        title: z.string().nullable(),
        summary: z.string().nullable(),
        text: z.string().nullable().optional(),
      })
      .partial()
      .optional(),
    pull_requests: z.array(z.object({ number: z.number().int().positive() })),
    app: z.object({ id: z.number().int() }).nullable().optional(),
  }),
});

const issueCommentEvent = z.object({
  action: z.string(),
  installation,
  repository,
  issue: z.object({
    number: z.number().int().positive(),
    pull_request: z.object({}).passthrough().optional(),
  }),
  comment: z.object({ id: z.number().int().positive(), body: z.string() }),
  sender,
});

/** The pull-request actions after which the head commit has not been reviewed yet. */
const REVIEWED_ACTIONS = new Set(['opened', 'synchronize', 'ready_for_review', 'reopened']);

export interface ReviewTrigger {
  kind: 'pr_review';
  repository: string;
  installationId: number | null;
  number: number;
  headSha: string;
  /** The pull request's page. */
  url: string | null;
  /** A draft: reviewed on an event only where the repository asks for it (review_drafts). */
  draft: boolean;
  payload: PrReviewPayload;
}

/**
 * The commands a comment can give: `review` a pull request, `summarize` an issue or pull request,
 * `analyze` the code (a pull request's head, or the default branch for an issue), `fix` an issue
 * (BUG_FIX) or `implement` it (FEATURE), each opening a pull request.
 */
export const COMMANDS = ['review', 'summarize', 'analyze', 'fix', 'implement'] as const;
export type Command = (typeof COMMANDS)[number];

/** Commands that change code: they work on issues, and their result is a pull request. */
export const CHANGE_COMMANDS: ReadonlySet<Command> = new Set(['fix', 'implement']);

/** Labels that ask for a change when added to an issue. */
export const LABEL_COMMANDS: ReadonlyMap<string, Command> = new Map([
  ['supervisor:fix', 'fix'],
  ['supervisor:implement', 'implement'],
]);

/** `@<mention> <command>` in a comment, or a command label added to an issue, by `actor` (whose access is checked next). */
export interface CommandTrigger {
  kind: 'command';
  command: Command;
  /** The comment's id (one comment asks for one task); null for a label. */
  commentId: number | null;
  /** What the comment says after the command (for a change: what to do beyond the issue). */
  request: string;
  repository: string;
  installationId: number | null;
  number: number;
  actor: string;
}

/**
 * Words for the agent on a pull request, which reach it if the supervisor opened that pull request:
 * `@<mention> <anything that is not a command>`, or a review (its body, then its inline comments).
 */
export interface MessageTrigger {
  kind: 'message';
  repository: string;
  installationId: number | null;
  number: number;
  actor: string;
  /** The comment's request, or the review's body. */
  text: string;
  /** A review, whose inline comments go with its body; null for a comment. */
  reviewId: number | null;
  /** One message per comment or review, however often it is delivered. */
  source: string;
}

/** An issue just opened, which a repository may ask to have summarized (summarize_new_issues). */
export interface NewIssueTrigger {
  kind: 'new_issue';
  repository: string;
  installationId: number | null;
  number: number;
  actor: string;
}

/** A check that failed on a pull request's head: the supervisor's own pull request gets a fix. */
export interface CheckFailedTrigger {
  kind: 'check_failed';
  repository: string;
  installationId: number | null;
  /** Every pull request of the repository whose head the check ran on. */
  numbers: number[];
  checkRunId: number;
  /** The App whose check it is (the supervisor's own checks never start a fix). */
  appId: number | null;
  headSha: string;
  /** What the check said: its name, conclusion, title, summary and text. */
  text: string;
}

/** Check conclusions that ask for a fix. */
const FAILED = new Set(['failure', 'timed_out']);

export type Trigger =
  | CheckFailedTrigger
  | ReviewTrigger
  | CommandTrigger
  | MessageTrigger
  | NewIssueTrigger
  | { kind: 'none'; reason: string };

export function triggerFor(event: string, body: unknown, mention = 'supervisor'): Trigger {
  if (event === 'issue_comment') return commandIn(body, mention);
  if (event === 'issues') return labelCommand(body);
  if (event === 'pull_request_review') return reviewMessage(body);
  if (event === 'check_run') return checkFailed(body);
  if (event !== 'pull_request') return { kind: 'none', reason: `no trigger for ${event} events` };
  const parsed = pullRequestEvent.safeParse(body);
  if (!parsed.success) {
    return { kind: 'none', reason: `not a pull_request payload: ${z.prettifyError(parsed.error)}` };
  }
  const { action, pull_request: pr, installation } = parsed.data;
  if (!REVIEWED_ACTIONS.has(action))
    return { kind: 'none', reason: `pull_request.${action} is not reviewed` };
  return reviewTrigger(parsed.data.repository.full_name, installation?.id ?? null, pr);
}

/** The review of a pull request's head commit. */
export function reviewTrigger(
  repository: string,
  installationId: number | null,
  pr: PullRequest,
): ReviewTrigger {
  return {
    kind: 'pr_review',
    repository,
    installationId,
    number: pr.number,
    headSha: pr.head.sha,
    url: pr.html_url ?? null,
    draft: pr.draft ?? false,
    payload: {
      repository,
      pr_number: pr.number,
      title: pr.title.slice(0, LIMITS.shortTextChars) || '(untitled)',
      ...(pr.body ? { description: pr.body.slice(0, LIMITS.longTextChars) } : {}),
      // Commits rather than branch names: the review is of exactly the head GitHub announced.
      base_ref: pr.base.sha,
      head_ref: pr.head.sha,
    },
  };
}

function commandIn(body: unknown, mention: string): Trigger {
  const parsed = issueCommentEvent.safeParse(body);
  if (!parsed.success) {
    return { kind: 'none', reason: `not an issue_comment payload: ${z.prettifyError(parsed.error)}` };
  }
  const { action, comment, issue, sender } = parsed.data;
  if (action !== 'created') return { kind: 'none', reason: `issue_comment.${action} is not read` };
  // Bots (this App among them) never start work: no loops of agents answering agents.
  if (sender.type === 'Bot')
    return { kind: 'none', reason: `comments by bots (${sender.login}) are not read` };
  const escaped = mention.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`(?:^|\\s)@${escaped}\\s+(\\S+)([\\s\\S]*)`, 'i').exec(comment.body);
  if (!match) return { kind: 'none', reason: `no @${mention} command` };
  const command = COMMANDS.find((known) => known === match[1]!.toLowerCase());
  if (!command && issue.pull_request) {
    return {
      kind: 'message',
      ...asked(parsed.data, issue.number),
      text: `${match[1]}${match[2]}`.trim().slice(0, LIMITS.longTextChars),
      reviewId: null,
      source: `github:comment:${comment.id}`,
    };
  }
  if (!command)
    return { kind: 'none', reason: `unknown command "${match[1]}" (known: ${COMMANDS.join(', ')})` };
  if (command === 'review' && !issue.pull_request) {
    return { kind: 'none', reason: 'review works on pull requests, and this is an issue' };
  }
  if (CHANGE_COMMANDS.has(command) && issue.pull_request) {
    return { kind: 'none', reason: `${command} works on issues, and this is a pull request` };
  }
  return {
    kind: 'command',
    command,
    commentId: comment.id,
    request: match[2]!.trim().slice(0, LIMITS.longTextChars),
    ...asked(parsed.data, issue.number),
  };
}

function labelCommand(body: unknown): Trigger {
  const parsed = issuesEvent.safeParse(body);
  if (!parsed.success) {
    return { kind: 'none', reason: `not an issues payload: ${z.prettifyError(parsed.error)}` };
  }
  const { action, label, issue, sender } = parsed.data;
  if (action === 'opened') {
    if (sender.type === 'Bot')
      return { kind: 'none', reason: `issues opened by bots (${sender.login}) are not read` };
    return {
      kind: 'new_issue',
      ...asked(parsed.data, issue.number),
    };
  }
  if (action !== 'labeled' || !label) return { kind: 'none', reason: `issues.${action} is not read` };
  const command = LABEL_COMMANDS.get(label.name.toLowerCase());
  if (!command) return { kind: 'none', reason: `label "${label.name}" asks for nothing` };
  if (sender.type === 'Bot')
    return { kind: 'none', reason: `labels added by bots (${sender.login}) are not read` };
  return {
    kind: 'command',
    command,
    commentId: null,
    request: '',
    ...asked(parsed.data, issue.number),
  };
}

function reviewMessage(body: unknown): Trigger {
  const parsed = reviewEvent.safeParse(body);
  if (!parsed.success) {
    return { kind: 'none', reason: `not a pull_request_review payload: ${z.prettifyError(parsed.error)}` };
  }
  const { action, review, sender } = parsed.data;
  if (action !== 'submitted') return { kind: 'none', reason: `pull_request_review.${action} is not read` };
  if (sender.type === 'Bot')
    return { kind: 'none', reason: `reviews by bots (${sender.login}) are not read` };
  const text = (review.body ?? '').trim();
  if (review.state.toLowerCase() === 'approved' && !text) {
    return { kind: 'none', reason: 'an approval without words asks for nothing' };
  }
  return {
    kind: 'message',
    ...asked(parsed.data, parsed.data.pull_request.number),
    text: text.slice(0, LIMITS.longTextChars),
    reviewId: review.id,
    source: `github:review:${review.id}`,
  };
}

function checkFailed(body: unknown): Trigger {
  const parsed = checkRunEvent.safeParse(body);
  if (!parsed.success) {
    return { kind: 'none', reason: `not a check_run payload: ${z.prettifyError(parsed.error)}` };
  }
  const { action, check_run: run, installation } = parsed.data;
  if (action !== 'completed') return { kind: 'none', reason: `check_run.${action} is not read` };
  if (!run.conclusion || !FAILED.has(run.conclusion)) {
    return {
      kind: 'none',
      reason: `a check that ended ${run.conclusion ?? 'without a conclusion'} asks for nothing`,
    };
  }
  if (run.pull_requests.length === 0) return { kind: 'none', reason: 'the check is on no pull request' };
  const output = run.output ?? {};
  return {
    kind: 'check_failed',
    repository: parsed.data.repository.full_name,
    installationId: installation?.id ?? null,
    numbers: run.pull_requests.map((pr) => pr.number),
    checkRunId: run.id,
    appId: run.app?.id ?? null,
    headSha: run.head_sha,
    text: [
      `The check "${run.name}" ended ${run.conclusion} on ${run.head_sha}.`,
      output.title,
      output.summary,
      output.text,
    ]
      .filter(Boolean)
      .join('\n\n')
      .slice(0, LIMITS.longTextChars),
  };
}

/** Where something was asked (repository, installation, issue or pull request) and by whom. */
function asked(
  data: {
    repository: { full_name: string };
    installation?: { id: number } | undefined;
    sender: { login: string };
  },
  number: number,
) {
  return {
    repository: data.repository.full_name,
    installationId: data.installation?.id ?? null,
    number,
    actor: data.sender.login,
  };
}
