import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * What a finished PR_REVIEW becomes on GitHub: one review with inline comments where GitHub can
 * place them, a check run, and the words of the tracking comment. Pure: the posting is elsewhere.
 */

export const SEVERITIES = ['critical', 'major', 'minor', 'nit'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A PR_REVIEW's structured output (src/core/prompts.ts REVIEW_SCHEMA), checked again at this edge. */
export const reviewDataSchema = z.object({
  summary: z.string(),
  verdict: z.enum(['approve', 'request_changes', 'comment']),
  findings: z.array(
    z.object({
      severity: z.enum(SEVERITIES),
      file: z.string().optional(),
      line: z.number().int().optional(),
      title: z.string(),
      detail: z.string(),
      suggestion: z.string().optional(),
    }),
  ),
});
export type ReviewData = z.infer<typeof reviewDataSchema>;
export type ReviewFinding = ReviewData['findings'][number];

/** The review in a finished task's stored result, if it holds one. */
export function reviewOf(result: unknown): ReviewData | undefined {
  const parsed = reviewDataSchema.safeParse(
    (result as { structured_output?: unknown } | null)?.structured_output,
  );
  return parsed.success ? parsed.data : undefined;
}

/**
 * The lines a review comment can be placed on, per file of a unified diff: the new-side line numbers
 * of its hunks (added and unchanged lines). GitHub refuses a comment on any other line
 * ("Line could not be resolved"), so findings elsewhere go into the review's body.
 */
export function commentableLines(diff: string): Map<string, Set<number>> {
  const files = new Map<string, Set<number>>();
  let lines: Set<number> | undefined;
  let next = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('diff --git ')) {
      lines = undefined;
    } else if (line.startsWith('+++ ')) {
      const path = line.slice(4).replace(/\t.*$/, '');
      lines = path === '/dev/null' ? undefined : new Set();
      if (lines) files.set(path.replace(/^b\//, ''), lines);
    } else if (line.startsWith('@@')) {
      const start = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
      next = start ? Number(start[1]) : 0;
    } else if (lines && next > 0 && !line.startsWith('---')) {
      if (line.startsWith('+') || line.startsWith(' ')) lines.add(next++);
      // `-` lines are the old side only; `\ No newline at end of file` is no line at all.
    }
  }
  return files;
}

/**
 * A finding's identity across reviews of later commits of the same pull request: its file and
 * title, not its line (lines move as the branch changes).
 */
export function findingKey(finding: ReviewFinding): string {
  const identity = `${finding.file ?? ''}\n${finding.title.trim().toLowerCase().replace(/\s+/g, ' ')}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

const SEVERITY_MARK: Record<Severity, string> = {
  critical: '🔴 critical',
  major: '🟠 major',
  minor: '🟡 minor',
  nit: '⚪ nit',
};

/** GitHub refuses a comment or review body longer than 65,536 characters. */
const MAX_BODY_CHARS = 60_000;

export function capped(text: string): string {
  return text.length <= MAX_BODY_CHARS
    ? text
    : `${text.slice(0, MAX_BODY_CHARS)}\n\n… (cut: too long for GitHub)`;
}

function findingText(finding: ReviewFinding): string {
  return capped(
    [
      `**${SEVERITY_MARK[finding.severity]}: ${finding.title}**`,
      '',
      finding.detail,
      ...(finding.suggestion ? ['', `Suggestion: ${finding.suggestion}`] : []),
    ].join('\n'),
  );
}

export interface InlineComment {
  path: string;
  line: number;
  side: 'RIGHT';
  body: string;
}

export interface PlannedReview {
  event: 'COMMENT' | 'REQUEST_CHANGES';
  body: string;
  comments: InlineComment[];
  /** Keys of the findings this review reports (inline or in its body). */
  keys: string[];
  /** Findings left out because an earlier review of the pull request reported them. */
  repeated: number;
}

export interface ReviewPolicy {
  /** Findings reported by earlier reviews of the same pull request (their keys). */
  alreadyPosted: ReadonlySet<string>;
  /** A `request_changes` verdict may request changes; otherwise every review is a comment. */
  requestChanges: boolean;
  /** Link to the task on the dashboard, for the footer. */
  taskUrl?: string;
}

/** One batched review: findings on diff lines inline, the others in the body, none twice. */
export function planReview(data: ReviewData, diff: string, policy: ReviewPolicy): PlannedReview {
  const placeable = commentableLines(diff);
  const fresh = data.findings.filter((finding) => !policy.alreadyPosted.has(findingKey(finding)));
  const comments: InlineComment[] = [];
  const elsewhere: ReviewFinding[] = [];
  for (const finding of fresh) {
    if (finding.file && finding.line && placeable.get(finding.file)?.has(finding.line)) {
      comments.push({ path: finding.file, line: finding.line, side: 'RIGHT', body: findingText(finding) });
    } else {
      elsewhere.push(finding);
    }
  }
  const repeated = data.findings.length - fresh.length;
  const body = capped(
    [
      data.summary,
      '',
      fresh.length === 0
        ? 'No new findings.'
        : `${fresh.length} finding${fresh.length === 1 ? '' : 's'}${comments.length ? `, ${comments.length} inline` : ''}.`,
      ...(repeated
        ? [
            `${repeated} reported on an earlier commit of this pull request ${repeated === 1 ? 'is' : 'are'} not repeated.`,
          ]
        : []),
      ...elsewhere.flatMap((finding) => [
        '',
        `${finding.file ? `\`${finding.file}${finding.line ? `:${finding.line}` : ''}\`: ` : ''}${findingText(finding)}`,
      ]),
      '',
      footer(policy.taskUrl),
    ].join('\n'),
  );
  const requestChanges = policy.requestChanges && data.verdict === 'request_changes' && fresh.length > 0;
  return {
    event: requestChanges ? 'REQUEST_CHANGES' : 'COMMENT',
    body,
    comments,
    keys: fresh.map(findingKey),
    repeated,
  };
}

function footer(taskUrl: string | undefined): string {
  return `<sub>Reviewed by Supervisor${taskUrl ? ` · [task](${taskUrl})` : ''}</sub>`;
}

/** `never`, or the least severity that makes the check run fail. */
export type FailOn = Severity | 'never';

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: 'failure' | 'warning' | 'notice';
  title: string;
  message: string;
}

export interface PlannedCheckRun {
  conclusion: 'success' | 'failure' | 'neutral';
  title: string;
  summary: string;
  annotations: CheckAnnotation[];
}

/** GitHub takes at most this many annotations per check-run request. */
export const ANNOTATIONS_PER_REQUEST = 50;

const ANNOTATION_LEVEL: Record<Severity, CheckAnnotation['annotation_level']> = {
  critical: 'failure',
  major: 'failure',
  minor: 'warning',
  nit: 'notice',
};

/** The check run of a finished review: annotations for located findings, failing per `failOn`. */
export function planCheckRun(data: ReviewData, failOn: FailOn): PlannedCheckRun {
  const failing =
    failOn === 'never'
      ? []
      : data.findings.filter((f) => SEVERITIES.indexOf(f.severity) <= SEVERITIES.indexOf(failOn));
  const counts = SEVERITIES.map(
    (severity) => [severity, data.findings.filter((f) => f.severity === severity).length] as const,
  )
    .filter(([, count]) => count > 0)
    .map(([severity, count]) => `${count} ${severity}`);
  return {
    conclusion: failing.length > 0 ? 'failure' : 'success',
    title:
      data.findings.length === 0
        ? 'No findings'
        : `${data.findings.length} finding${data.findings.length === 1 ? '' : 's'}: ${counts.join(', ')}`,
    summary: data.summary,
    annotations: data.findings
      .filter((f): f is ReviewFinding & { file: string; line: number } => Boolean(f.file && f.line))
      .map((f) => ({
        path: f.file,
        start_line: f.line,
        end_line: f.line,
        annotation_level: ANNOTATION_LEVEL[f.severity],
        title: f.title.slice(0, 255),
        message: f.detail.slice(0, 64_000),
      })),
  };
}

const issueSummarySchema = z.object({
  summary: z.string(),
  category: z.string(),
  next_steps: z.array(z.string()),
  open_questions: z.array(z.string()).optional(),
});

/** An ISSUE_SUMMARY's structured output as Markdown for a comment, if the result holds one. */
export function issueSummaryText(result: unknown): string | undefined {
  const parsed = issueSummarySchema.safeParse(
    (result as { structured_output?: unknown } | null)?.structured_output,
  );
  if (!parsed.success) return undefined;
  const { summary, category, next_steps, open_questions = [] } = parsed.data;
  const list = (items: string[]) => items.map((item) => `- ${item}`);
  return capped(
    [
      `**Summary** (${category}): ${summary}`,
      ...(next_steps.length ? ['', '**Next steps**', ...list(next_steps)] : []),
      ...(open_questions.length ? ['', '**Open questions**', ...list(open_questions)] : []),
    ].join('\n'),
  );
}

const analysisSchema = z.object({
  summary: z.string(),
  findings: z.array(
    z.object({
      severity: z.enum(SEVERITIES),
      category: z.string(),
      file: z.string().optional(),
      line: z.number().int().optional(),
      title: z.string(),
      detail: z.string(),
    }),
  ),
});

/** A CODE_ANALYSIS's structured output as Markdown for a comment, if the result holds one. */
export function analysisText(result: unknown): string | undefined {
  const parsed = analysisSchema.safeParse(
    (result as { structured_output?: unknown } | null)?.structured_output,
  );
  if (!parsed.success) return undefined;
  const { summary, findings } = parsed.data;
  return capped(
    [
      `**Analysis**: ${summary}`,
      ...(findings.length
        ? [
            '',
            ...findings.map(
              (f) =>
                `- ${SEVERITY_MARK[f.severity]} (${f.category}) **${f.title}**${f.file ? ` \`${f.file}${f.line ? `:${f.line}` : ''}\`` : ''}: ${f.detail}`,
            ),
          ]
        : ['', 'No findings.']),
    ].join('\n'),
  );
}

export interface TrackedTask {
  id: string;
  type: string;
  status: string;
  outcome: string | null;
  error: string | null;
  costUsd: number;
}

/** The first line of a task's tracking comment: how the comment is found again. */
export function trackingMarker(taskId: string): string {
  return `<!-- supervisor:task:${taskId} -->`;
}

/** The one comment per task on the pull request, edited as the task moves. */
export function trackingComment(
  task: TrackedTask,
  links: { taskUrl?: string; reviewUrl?: string; pullUrl?: string },
  /** What the task produced, shown in the comment (an issue summary). */
  result?: string,
): string {
  const state: Record<string, string> = {
    queued: '⏳ Queued',
    parked: '⏸️ Waiting for agent quota',
    retrying: '🔁 Retrying',
    running: '🏃 Running',
    succeeded: '✅ Done',
    failed: '❌ Failed',
    cancelled: '🚫 Cancelled',
  };
  const done = task.status === 'succeeded' || task.status === 'failed' || task.status === 'cancelled';
  return [
    trackingMarker(task.id),
    `**Supervisor ${task.type}**: ${state[task.status] ?? task.status}`,
    ...(task.status === 'succeeded' && links.reviewUrl ? ['', `Review: ${links.reviewUrl}`] : []),
    ...(task.status === 'succeeded' && links.pullUrl ? ['', `Pull request: ${links.pullUrl}`] : []),
    ...(task.status === 'succeeded' && result ? ['', result] : []),
    ...(done && task.status !== 'succeeded'
      ? ['', `Outcome \`${task.outcome ?? 'none'}\`${task.error ? `: ${task.error.slice(0, 500)}` : ''}`]
      : []),
    ...(done ? ['', `Cost: $${task.costUsd.toFixed(4)}`] : []),
    ...(links.taskUrl ? ['', `[Task ${task.id}](${links.taskUrl})`] : [`Task \`${task.id}\``]),
  ].join('\n');
}
