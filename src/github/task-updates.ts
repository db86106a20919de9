import { appendAudit } from '../audit/audit-log.ts';
import { isTerminal } from '../core/task-status.ts';
import { scrubSecrets } from '../runtime/secret-scrubber.ts';
import type { Db } from '../store/database.ts';
import { listMessages } from '../store/message-store.ts';
import type { GitHubTaskRow, TaskRow } from '../store/schema.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { type GitHubApi, type GitHubClients, NO_RETRY } from './client.ts';
import { GITHUB_ACTOR } from './github-queue.ts';
import * as store from './github-store.ts';
import { followUpAnswer, type PushedChange, pullRequestText, pushedChangeOf } from './pull-request.ts';
import {
  ANNOTATIONS_PER_REQUEST,
  analysisText,
  type CheckAnnotation,
  type FailOn,
  issueSummaryText,
  type PlannedCheckRun,
  planCheckRun,
  planReview,
  type ReviewData,
  reviewOf,
  trackingComment,
  trackingMarker,
} from './review.ts';

const CHECK_RUN_NAME = 'Supervisor review';

export interface TaskUpdateDeps {
  db: Db;
  tasks: TaskService;
  clients: GitHubClients;
  /** A `request_changes` verdict posts REQUEST_CHANGES (otherwise every review is a comment). */
  requestChanges: boolean;
  /** The least finding severity that fails the check run. */
  failOn: FailOn;
  /** Dashboard base URL for links (PUBLIC_URL). */
  publicUrl?: string;
  now: () => Date;
}

/**
 * What a GitHub task shows on GitHub, brought in line with the task as stored: one tracking
 * comment edited as it moves, and for a review a check run and, on success, one batched review.
 * The ids of what was created are stored, so an update that runs twice edits, not reposts.
 */
export class GitHubTaskUpdates {
  readonly #deps: TaskUpdateDeps;

  constructor(deps: TaskUpdateDeps) {
    this.#deps = deps;
  }

  async update(taskId: string): Promise<void> {
    const { db } = this.#deps;
    const link = await store.getGitHubTask(db, taskId);
    if (!link) return;
    const { task, totals } = await this.#deps.tasks.get(taskId);
    const api = this.#deps.clients.for(link.installationId);
    const [owner, repo] = link.repository.split('/') as [string, string];
    const where = { owner, repo };

    // A review is of a commit: it posts a review and keeps a check run; a summary has neither.
    const commit = link.headSha;
    if (commit) {
      const reviewData = task.status === 'succeeded' ? reviewOf(task.result) : undefined;
      if (reviewData && link.reviewId === null) await this.#postReview(api, where, link, commit, reviewData);
      if (this.#deps.clients.canCreateCheckRuns) {
        await this.#syncCheckRun(api, where, link, commit, task, reviewData);
      }
    }

    // A change is of an issue: on success, the pull request of its pushed branch.
    const change = commit === null && task.status === 'succeeded' ? pushedChangeOf(task.result) : undefined;
    if (change && link.pullNumber === null) {
      await this.#openPullRequest(api, where, link, task, totals.costUsd, change);
    }
    if (link.pullNumber !== null) await this.#answerFollowUps(api, where, link, task);

    const body = trackingComment(
      {
        id: task.id,
        type: task.type,
        status: task.status,
        outcome: task.outcome,
        error: task.error === null ? null : scrubSecrets(task.error),
        costUsd: totals.costUsd,
      },
      {
        ...(this.#taskUrl(task.id) ? { taskUrl: this.#taskUrl(task.id) } : {}),
        ...(link.reviewUrl ? { reviewUrl: link.reviewUrl } : {}),
        ...(link.pullUrl ? { pullUrl: link.pullUrl } : {}),
      },
      task.type === 'ISSUE_SUMMARY'
        ? issueSummaryText(task.result)
        : task.type === 'CODE_ANALYSIS'
          ? analysisText(task.result)
          : undefined,
    );
    if (link.trackingCommentId === null) {
      // Posted before, but its id was lost (a crash between posting and storing): found by the
      // marker the comment carries, so the task still has one comment.
      const { data: existing } = await api.rest.issues.listComments({
        ...where,
        issue_number: link.number,
        per_page: 100,
      });
      const marker = trackingMarker(task.id);
      const found = existing.find((comment) => comment.body?.startsWith(marker));
      if (found) await this.#note(link, { trackingCommentId: found.id });
    }
    if (link.trackingCommentId !== null) {
      const edited = await api.rest.issues
        .updateComment({ ...where, comment_id: link.trackingCommentId, body })
        .then(
          () => true,
          (error: unknown) => {
            // Someone deleted it: a new one is posted rather than failing every update from now on.
            if ((error as { status?: number }).status === 404) return false;
            throw error;
          },
        );
      if (edited) return;
    }
    const { data } = await api.rest.issues.createComment({
      ...where,
      issue_number: link.number,
      body,
      request: NO_RETRY,
    });
    await this.#record(link, { trackingCommentId: data.id }, 'github.comment_posted', {
      comment_id: data.id,
    });
  }

  /**
   * Opens the draft pull request of a change's pushed branch. One that was opened before but whose
   * number was lost (a crash between opening and storing it) is found by its branch, not reopened.
   */
  async #openPullRequest(
    api: GitHubApi,
    where: { owner: string; repo: string },
    link: GitHubTaskRow,
    task: TaskRow,
    costUsd: number,
    change: PushedChange,
  ): Promise<void> {
    const taskUrl = this.#taskUrl(task.id);
    const { title, body } = pullRequestText({
      type: task.type,
      taskId: task.id,
      issueNumber: link.number,
      issueTitle: link.title ?? `issue #${link.number}`,
      summary: task.resultText,
      change,
      costUsd,
      ...(taskUrl ? { taskUrl } : {}),
    });
    const base =
      (task.payload as { base_ref?: string }).base_ref ??
      (await api.rest.repos.get(where)).data.default_branch;
    const open = (draft: boolean) =>
      api.rest.pulls.create({
        ...where,
        head: change.pushed.branch,
        base,
        title,
        body,
        draft,
        request: NO_RETRY,
      });
    const { data: pull } = await open(true).catch(async (error: unknown) => {
      if ((error as { status?: number }).status !== 422) throw error;
      // Some plans have no drafts for private repositories: then it opens ready for review.
      if (/draft/i.test((error as Error).message)) return open(false);
      const { data: existing } = await api.rest.pulls.list({
        ...where,
        head: `${where.owner}:${change.pushed.branch}`,
        state: 'all',
      });
      if (!existing[0]) throw error;
      return { data: existing[0] };
    });
    await this.#record(
      link,
      { pullNumber: pull.number, pullUrl: pull.html_url },
      'github.pull_request_opened',
      {
        pull_number: pull.number,
        branch: change.pushed.branch,
        commit: change.pushed.commit,
      },
    );
  }

  /**
   * Answers on the pull request each follow-up asked there (a review, a comment, a failed check)
   * whose run has ended, in order, once each: the run's reply and, for the latest, the commit pushed.
   */
  async #answerFollowUps(
    api: GitHubApi,
    where: { owner: string; repo: string },
    link: GitHubTaskRow,
    task: TaskRow,
  ): Promise<void> {
    const messages = await listMessages(this.#deps.db, task.id);
    const latest = messages.at(-1);
    for (const message of messages.slice(messages.findIndex((m) => m.id === link.answeredMessageId) + 1)) {
      if (!message.repliedAt) return;
      if (!message.source?.startsWith('github:')) {
        await this.#note(link, { answeredMessageId: message.id });
        continue;
      }
      const pushed =
        message === latest && isTerminal(task.status) ? pushedChangeOf(task.result)?.pushed : undefined;
      const body = followUpAnswer({
        ...(message.author.startsWith('github:') ? { login: message.author.slice('github:'.length) } : {}),
        status: message.replyOutcome === 'succeeded' ? 'succeeded' : 'failed',
        outcome: message.replyOutcome,
        error: message.reply === null ? null : scrubSecrets(message.reply),
        resultText: message.reply,
        ...(pushed ? { pushed } : {}),
      });
      const { data } = await api.rest.issues.createComment({
        ...where,
        issue_number: link.pullNumber!,
        body,
        request: NO_RETRY,
      });
      await this.#record(link, { answeredMessageId: message.id }, 'github.comment_posted', {
        comment_id: data.id,
        pull_number: link.pullNumber,
        answers: message.id,
      });
    }
  }

  async #postReview(
    api: GitHubApi,
    where: { owner: string; repo: string },
    link: GitHubTaskRow,
    commit: string,
    data: ReviewData,
  ): Promise<void> {
    // Inline comments are placed on the pull request's diff, which is that of the reviewed commit
    // only while it is still the head: after a push they go in the body, all of them.
    const { data: pull } = await api.rest.pulls.get({ ...where, pull_number: link.number });
    const diff =
      pull.head.sha === commit
        ? ((
            await api.rest.pulls.get({
              ...where,
              pull_number: link.number,
              mediaType: { format: 'diff' },
            })
          ).data as unknown as string)
        : '';
    const policy = {
      alreadyPosted: await store.postedFindings(this.#deps.db, link),
      requestChanges: this.#deps.requestChanges,
      ...(this.#taskUrl(link.taskId) ? { taskUrl: this.#taskUrl(link.taskId) } : {}),
    };
    const plan = planReview(data, diff, policy);
    // Every finding was posted on an earlier commit: a review saying so again would be noise.
    if (plan.keys.length === 0 && plan.repeated > 0) return;
    // Posted before, but its id was lost (a crash between posting and storing): found by the
    // marker its body ends with, so the task still has one review.
    const marker = trackingMarker(link.taskId);
    const { data: earlier } = await api.rest.pulls.listReviews({
      ...where,
      pull_number: link.number,
      per_page: 100,
    });
    const found = earlier.find((review) => review.body?.includes(marker));
    if (found) {
      await this.#note(link, { reviewId: found.id, reviewUrl: found.html_url, postedFindings: plan.keys });
      return;
    }
    const post = (comments: typeof plan.comments, body: string) =>
      api.rest.pulls.createReview({
        ...where,
        pull_number: link.number,
        commit_id: commit,
        event: plan.event,
        body: `${body}\n\n${marker}`,
        comments,
        request: NO_RETRY,
      });
    const { data: review } = await post(plan.comments, plan.body).catch((error: unknown) => {
      // GitHub refused a placement after all: the same review, every finding in the body.
      if ((error as { status?: number }).status !== 422 || plan.comments.length === 0) throw error;
      return post([], planReview(data, '', policy).body);
    });
    const posted = { reviewId: review.id, reviewUrl: review.html_url, postedFindings: plan.keys };
    await this.#record(link, posted, 'github.review_posted', {
      review_id: review.id,
      event: plan.event,
      inline_comments: plan.comments.length,
      findings: plan.keys.length,
    });
  }

  async #syncCheckRun(
    api: GitHubApi,
    where: { owner: string; repo: string },
    link: GitHubTaskRow,
    commit: string,
    task: TaskRow,
    reviewData: ReviewData | undefined,
  ): Promise<void> {
    const detailsUrl = this.#taskUrl(task.id);
    const common = {
      ...where,
      name: CHECK_RUN_NAME,
      external_id: task.id,
      ...(detailsUrl ? { details_url: detailsUrl } : {}),
    };
    const status: 'queued' | 'in_progress' | 'completed' = isTerminal(task.status)
      ? 'completed'
      : task.status === 'running'
        ? 'in_progress'
        : 'queued';
    if (link.checkRunId === null) {
      // Created before, but its id was lost (a crash between creating and storing): found by the
      // task id it carries, so the commit still has one run of ours.
      const { data } = await api.rest.checks.listForRef({
        ...where,
        ref: commit,
        check_name: CHECK_RUN_NAME,
        filter: 'all',
        per_page: 100,
      });
      const found = data.check_runs.find((run) => run.external_id === task.id);
      if (found) {
        await this.#note(link, {
          checkRunId: found.id,
          checkRunStatus: found.status as NonNullable<GitHubTaskRow['checkRunStatus']>,
          checkRunRetryBase: task.retryBaseAttempt,
        });
      }
    }
    // A manual retry starts a new run of the task, which gets a check run of its own.
    const sameRun = link.checkRunRetryBase === task.retryBaseAttempt;
    if (sameRun && status === link.checkRunStatus) return;
    const plan = status === 'completed' ? this.#checkRunPlan(task, reviewData) : undefined;
    const chunks: CheckAnnotation[][] = [];
    for (let i = 0; i < (plan?.annotations.length ?? 0); i += ANNOTATIONS_PER_REQUEST) {
      chunks.push(plan!.annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
    }
    const output = (annotations: CheckAnnotation[]) =>
      plan ? { output: { title: plan.title, summary: plan.summary, annotations } } : {};
    const state = plan
      ? { status, conclusion: plan.conclusion, completed_at: this.#deps.now().toISOString() }
      : { status };
    if (link.checkRunId === null || !sameRun) {
      const { data } = await api.rest.checks.create({
        ...common,
        head_sha: commit,
        ...state,
        ...output(chunks.shift() ?? []),
        request: NO_RETRY,
      });
      const created = {
        checkRunId: data.id,
        checkRunStatus: status,
        checkRunRetryBase: task.retryBaseAttempt,
      };
      await this.#record(link, created, 'github.check_run_created', {
        check_run_id: data.id,
        status,
      });
    } else {
      await api.rest.checks.update({
        ...common,
        check_run_id: link.checkRunId,
        ...state,
        ...output(chunks.shift() ?? []),
      });
      await this.#note(link, { checkRunStatus: status });
    }
    // GitHub takes 50 annotations per request; the rest are added by further updates. Each is sent
    // once: a failure here loses the rest rather than sending the first ones twice.
    for (const annotations of chunks) {
      await api.rest.checks.update({
        ...where,
        check_run_id: link.checkRunId!,
        ...output(annotations),
        request: NO_RETRY,
      });
    }
    if (plan) {
      await this.#record(link, {}, 'github.check_run_completed', {
        check_run_id: link.checkRunId,
        conclusion: plan.conclusion,
        annotations: plan.annotations.length,
      });
    }
  }

  #checkRunPlan(task: TaskRow, reviewData: ReviewData | undefined): PlannedCheckRun {
    if (reviewData && task.status === 'succeeded') return planCheckRun(reviewData, this.#deps.failOn);
    // An outcome that is not a review is said as such, never as a clean bill of health.
    return {
      conclusion: 'neutral',
      title:
        task.status === 'cancelled'
          ? 'Review cancelled'
          : `Review did not complete: ${task.outcome ?? task.status}`,
      summary: scrubSecrets(task.error ?? 'The agent produced no review.').slice(0, 2000),
      annotations: [],
    };
  }

  /** Stores what was posted, when the post needs no audit record of its own (a status update). */
  async #note(link: GitHubTaskRow, changes: Parameters<typeof store.updateGitHubTask>[2]): Promise<void> {
    Object.assign(link, changes);
    await store.updateGitHubTask(this.#deps.db, link.taskId, changes);
  }

  /** Stores what was posted and audits the write, together. */
  async #record(
    link: GitHubTaskRow,
    changes: Parameters<typeof store.updateGitHubTask>[2],
    action: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    Object.assign(link, changes);
    await this.#deps.db.transaction(async (tx) => {
      if (Object.keys(changes).length) await store.updateGitHubTask(tx, link.taskId, changes);
      await appendAudit(tx, {
        at: this.#deps.now(),
        actor: GITHUB_ACTOR,
        action,
        taskId: link.taskId,
        details: { repository: link.repository, number: link.number, ...details },
      });
    });
  }

  #taskUrl(taskId: string): string | undefined {
    return this.#deps.publicUrl ? `${this.#deps.publicUrl.replace(/\/+$/, '')}/#/tasks/${taskId}` : undefined;
  }
}
