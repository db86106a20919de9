import { z } from 'zod';
import { capped, trackingMarker } from './review.ts';

/**
 * The pull request a change task opens: from its result (the branch it pushed, its commits and
 * diff summary) and its issue. Pure.
 */

const pushedChange = z.object({
  pushed: z.object({ branch: z.string().min(1), commit: z.string() }),
  commits: z.array(z.object({ sha: z.string(), subject: z.string() })),
  files_changed: z.number(),
  insertions: z.number(),
  deletions: z.number(),
});
export type PushedChange = z.infer<typeof pushedChange>;

/** The pushed change a task's result describes; undefined when it pushed none. */
export function pushedChangeOf(result: unknown): PushedChange | undefined {
  const parsed = pushedChange.safeParse((result as { workspace?: unknown } | null)?.workspace);
  return parsed.success ? parsed.data : undefined;
}

export interface PullRequestInput {
  type: string;
  taskId: string;
  issueNumber: number;
  issueTitle: string;
  /** The agent's closing message. */
  summary?: string | null;
  change: PushedChange;
  costUsd: number;
  taskUrl?: string;
}

const VERBS: Record<string, string> = { BUG_FIX: 'Fix', FEATURE: 'Implement', REFACTOR: 'Refactor' };
/** GitHub refuses longer titles. */
const MAX_TITLE_CHARS = 256;
const MAX_SUMMARY_CHARS = 20_000;
const LISTED_COMMITS = 20;

export function pullRequestText(input: PullRequestInput): { title: string; body: string } {
  const { change } = input;
  const title = `${VERBS[input.type] ?? 'Change for'} #${input.issueNumber}: ${input.issueTitle}`;
  const commits = change.commits.slice(0, LISTED_COMMITS).map((c) => `- ${c.sha.slice(0, 7)} ${c.subject}`);
  if (change.commits.length > LISTED_COMMITS) {
    commits.push(`- … and ${change.commits.length - LISTED_COMMITS} more`);
  }
  const body = [
    trackingMarker(input.taskId),
    // "Fixes" links the issue, and closes it when this is merged.
    `Fixes #${input.issueNumber}.`,
    ...(input.summary
      ? ['', '## What the agent says it did', '', quietMentions(input.summary.slice(0, MAX_SUMMARY_CHARS))]
      : []),
    '',
    '## Changes',
    '',
    `${change.files_changed} file${change.files_changed === 1 ? '' : 's'} changed, +${change.insertions} −${change.deletions}`,
    '',
    ...commits,
    '',
    `Cost: $${input.costUsd.toFixed(4)} · ${input.taskUrl ? `[task ${input.taskId}](${input.taskUrl})` : `task \`${input.taskId}\``}`,
    '',
    'Opened as a draft by Supervisor: read it, then mark it ready for review.',
  ].join('\n');
  return { title: title.slice(0, MAX_TITLE_CHARS), body: capped(body) };
}

/** The answer on a pull request to a follow-up asked there, once its run has ended. */
export function followUpAnswer(input: {
  /** Who asked, mentioned in the answer; none for a failed check. */
  login?: string;
  status: string;
  outcome: string | null;
  error: string | null;
  resultText: string | null;
  pushed?: { branch: string; commit: string };
}): string {
  const to = input.login ? `@${input.login} ` : 'For the failed check: ';
  if (input.status !== 'succeeded') {
    const why = input.error ? `: ${input.error.slice(0, 500)}` : '';
    return `${to}I could not do this (outcome \`${input.outcome ?? input.status}\`${why}).`;
  }
  return capped(
    [
      `${to}${quietMentions((input.resultText ?? 'Done.').slice(0, MAX_SUMMARY_CHARS))}`,
      ...(input.pushed
        ? ['', `Pushed ${input.pushed.commit.slice(0, 7)} to \`${input.pushed.branch}\`.`]
        : []),
    ].join('\n'),
  );
}

/** The agent's text may name people (copied from an issue, say): quoted, not pinged. */
function quietMentions(text: string): string {
  return text.replace(/@(?=[A-Za-z0-9])/g, '@\u200b');
}
