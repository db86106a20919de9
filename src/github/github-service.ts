import { verify } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, type PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { appendAudit } from '../audit/audit-log.ts';
import { AppError } from '../core/errors.ts';
import { isTerminal } from '../core/task-status.ts';
import { LIMITS } from '../core/task-types.ts';
import { scrubSecrets } from '../runtime/secret-scrubber.ts';
import type { CursorPosition } from '../store/cursor.ts';
import type { Db, Queryable } from '../store/database.ts';
import type { GitHubTaskRow, TaskRow } from '../store/schema.ts';
import { storable } from '../store/storable.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { GitHubApi, GitHubClients } from './client.ts';
import * as store from './github-store.ts';
import {
  ANNOTATIONS_PER_REQUEST,
  type CheckAnnotation,
  type FailOn,
  issueSummaryText,
  type PlannedCheckRun,
  planCheckRun,
  planReview,
  type ReviewData,
  reviewOf,
  trackingComment,
} from './review.ts';
import { type CommandTrigger, type ReviewTrigger, reviewTrigger, triggerFor } from './triggers.ts';

/** Deliveries are handled, and results posted, from their own pg-boss queue: GitHub never waits on us. */
export const GITHUB_QUEUE = 'supervisor-github';
/** Tasks started by GitHub events are submitted by this actor. */
export const GITHUB_ACTOR = 'github';
const CHECK_RUN_NAME = 'Supervisor review';
/**
 * For requests that create something: GitHub may have done it before a 5xx or a timeout, and a
 * resend would post it twice. The job's own retry runs after what was created is recorded.
 */
const NO_RETRY = { retries: 0 };
const DAY_MS = 86_400_000;
/** GitHub's permission levels that may push (`maintain` reads as `write` in this field). */
const WRITERS = new Set(['admin', 'write']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type GitHubJob = { kind: 'delivery'; id: string } | { kind: 'task'; taskId: string };

/**
 * Creates the queue. Every process does, GitHub configured or not: a status change of a GitHub
 * task queues its update wherever it happens (see queueGitHubUpdate).
 */
export async function createGitHubQueue(boss: PgBoss): Promise<void> {
  await boss.createQueue(GITHUB_QUEUE, {
    // One job per key waiting and one running: a task's updates never race each other, and an
    // update queued while another waits is the same work (each reads the task as it is then).
    policy: 'stately',
    retryLimit: 20,
    retryDelay: 5,
    retryBackoff: true,
    retryDelayMax: 600,
    expireInSeconds: 300,
    retentionSeconds: 7 * 24 * 3600,
  });
}

/** Queues a GitHub task's update (tracking comment, check run, review) in the transaction that changed it. */
export async function queueGitHubUpdate(q: Queryable, boss: PgBoss, taskId: string): Promise<void> {
  await sendJob(q, boss, { kind: 'task', taskId }, `task:${taskId}`);
}

async function sendJob(q: Queryable, boss: PgBoss, job: GitHubJob, singletonKey: string): Promise<void> {
  await boss.send(GITHUB_QUEUE, job, {
    singletonKey,
    db: fromDrizzle(q as unknown as DrizzleTransactionLike, sql),
  });
}

export interface GitHubServiceDeps {
  db: Db;
  boss: PgBoss;
  tasks: TaskService;
  clients: GitHubClients;
  /** Webhook secrets: the current one first, then the one being rotated out. */
  webhookSecrets: string[];
  /** A `request_changes` verdict posts REQUEST_CHANGES (otherwise every review is a comment). */
  requestChanges: boolean;
  /** The name comments address commands to: `@<mention> review`. */
  mention: string;
  /** Reviews of one pull request started in any 24 hours, at most. */
  reviewsPerPullPerDay: number;
  /** The least finding severity that fails the check run. */
  failOn: FailOn;
  /** Dashboard base URL for links (PUBLIC_URL). */
  publicUrl?: string;
  /** Hears of each delivery answered, for metrics. */
  onDelivery?: (event: string | undefined, result: 'accepted' | 'duplicate' | 'refused') => void;
  logger: Logger;
  now: () => Date;
}

export interface WebhookRequest {
  deliveryId: string | undefined;
  event: string | undefined;
  signature: string | undefined;
  rawBody: string;
}

/**
 * The GitHub edge. In: signed webhook deliveries, stored once per delivery id and handled from the
 * queue (a pull request opened or pushed to becomes a PR_REVIEW of its head commit). Out: for each
 * such task, one tracking comment edited as it moves, a check run, and on success one batched
 * review. Everything is derived from stored state, so a job that runs twice edits, not reposts.
 */
export class GitHubService {
  readonly #deps: GitHubServiceDeps;
  readonly #logger: Logger;

  constructor(deps: GitHubServiceDeps) {
    this.#deps = deps;
    this.#logger = deps.logger.child({ component: 'github' });
  }

  async start(): Promise<void> {
    await this.#deps.boss.work<GitHubJob>(
      GITHUB_QUEUE,
      { batchSize: 1, pollingIntervalSeconds: 1 },
      async ([job]) => {
        if (!job) return;
        if (job.data.kind === 'delivery') await this.#handleDelivery(job.data.id);
        else await this.#updateTask(job.data.taskId);
      },
    );
  }

  async stop(): Promise<void> {
    await this.#deps.boss.offWork(GITHUB_QUEUE, { wait: true }).catch(() => undefined);
  }

  /** Checks and stores a delivery, and queues its handling. `duplicate`: this delivery id was seen before. */
  async receive(request: WebhookRequest): Promise<{ duplicate: boolean }> {
    const observe = this.#deps.onDelivery ?? (() => {});
    try {
      const answer = await this.#receive(request);
      observe(request.event, answer.duplicate ? 'duplicate' : 'accepted');
      return answer;
    } catch (error) {
      if (error instanceof AppError && error.status < 500) observe(request.event, 'refused');
      throw error;
    }
  }

  async #receive(request: WebhookRequest): Promise<{ duplicate: boolean }> {
    const { event, signature, rawBody } = request;
    // GitHub's GUIDs are lower case; stored so, they page like every other id.
    const deliveryId = request.deliveryId?.toLowerCase();
    if (!signature || !(await this.#signedByUs(rawBody, signature))) {
      throw new AppError(
        'invalid_signature',
        'X-Hub-Signature-256 does not match the body: the delivery was not signed with GITHUB_WEBHOOK_SECRET',
      );
    }
    if (!deliveryId || !UUID.test(deliveryId) || !event) {
      throw new AppError(
        'bad_request',
        'a GitHub delivery carries X-GitHub-Event and X-GitHub-Delivery (the GUID GitHub gives each delivery)',
      );
    }
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(rawBody) as Record<string, unknown>;
    } catch {
      throw new AppError(
        'bad_request',
        'the delivery body is not JSON: set the App webhook’s content type to application/json',
      );
    }
    const repository = (payload.repository as { full_name?: unknown } | undefined)?.full_name;
    const duplicate = await this.#deps.db.transaction(async (tx) => {
      const fresh = await store.insertDelivery(tx, {
        id: deliveryId,
        event,
        action: typeof payload.action === 'string' ? payload.action : null,
        repository: typeof repository === 'string' ? repository : null,
        // A payload is GitHub's text, which may hold what PostgreSQL cannot store (an escaped NUL).
        payload: storable(payload),
        receivedAt: this.#deps.now(),
      });
      if (fresh)
        await sendJob(tx, this.#deps.boss, { kind: 'delivery', id: deliveryId }, `delivery:${deliveryId}`);
      return !fresh;
    });
    return { duplicate };
  }

  /** Recent deliveries, newest first, with what handling each did. */
  async deliveries(page: { limit: number; before?: CursorPosition }) {
    const rows = await store.listDeliveries(this.#deps.db, page);
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items,
      next: rows.length > page.limit && last ? { createdAt: last.receivedAt, id: last.id } : undefined,
    };
  }

  /**
   * Handles a stored delivery again, as if it had just arrived: for one that found GitHub
   * unconfigured, hit the daily limit, or came before a fix. A commit already reviewed stays so.
   */
  async replay(id: string, actor: string): Promise<void> {
    await this.#deps.db.transaction(async (tx) => {
      if (!(await store.reopenDelivery(tx, id))) {
        throw new AppError('delivery_not_found', `no GitHub delivery ${id}`);
      }
      await sendJob(tx, this.#deps.boss, { kind: 'delivery', id }, `delivery:${id}`);
      await appendAudit(tx, {
        at: this.#deps.now(),
        actor,
        action: 'github.delivery_replayed',
        details: { delivery: id },
      });
    });
  }

  async #signedByUs(rawBody: string, signature: string): Promise<boolean> {
    for (const secret of this.#deps.webhookSecrets) {
      // verify() compares in constant time; a malformed header is simply not a match.
      if (await verify(secret, rawBody, signature).catch(() => false)) return true;
    }
    return false;
  }

  async #handleDelivery(id: string): Promise<void> {
    const { db, now } = this.#deps;
    const delivery = await store.getDelivery(db, id);
    if (!delivery || delivery.handledAt) return;
    const trigger = triggerFor(delivery.event, delivery.payload, this.#deps.mention);
    if (trigger.kind === 'none') {
      await store.markDeliveryHandled(db, id, { at: now(), outcome: trigger.reason });
      return;
    }
    if (trigger.kind === 'command') return this.#command(id, trigger);
    await this.#startReview(id, trigger);
  }

  /**
   * `@supervisor review` on a pull request: only from someone who may push to the repository (a
   * reader is told so, and nothing runs); then the review of the head commit as if it was pushed.
   */
  async #command(id: string, command: CommandTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: access } = await api.rest.repos.getCollaboratorPermissionLevel({
      owner,
      repo,
      username: command.actor,
    });
    if (!WRITERS.has(access.permission)) {
      await api.rest.issues.createComment({
        owner,
        repo,
        issue_number: command.number,
        body: `@${command.actor} only people with write access to ${command.repository} can ask me to ${command.command}.`,
        request: NO_RETRY,
      });
      await store.markDeliveryHandled(db, id, {
        at: now(),
        outcome: `refused: ${command.actor} has ${access.permission} access, and ${command.command} needs write`,
      });
      return;
    }
    if (command.command === 'summarize') return this.#startSummary(id, command);
    const { data: pull } = await api.rest.pulls.get({ owner, repo, pull_number: command.number });
    await this.#startReview(id, reviewTrigger(command.repository, command.installationId, pull));
  }

  /** An ISSUE_SUMMARY of the issue (or pull request) as it reads now: title, body, people's comments. */
  async #startSummary(id: string, command: CommandTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: command.number });
    const { data: comments } = await api.rest.issues.listComments({
      owner,
      repo,
      issue_number: command.number,
      per_page: 50,
    });
    const payload = {
      repository: command.repository,
      issue_number: command.number,
      title: issue.title.slice(0, LIMITS.shortTextChars) || '(untitled)',
      body: (issue.body ?? '').slice(0, LIMITS.longTextChars) || '(empty)',
      comments: comments
        .filter((c) => c.user?.type !== 'Bot' && c.body)
        .map((c) => `${c.user?.login ?? 'someone'}: ${c.body}`.slice(0, LIMITS.longTextChars)),
    };
    const { task } = await this.#deps.tasks.submit(
      { type: 'ISSUE_SUMMARY', payload, priority: 5 },
      {
        actor: { name: GITHUB_ACTOR },
        idempotencyKey: `github:summary:${command.repository}#${command.commentId}`,
      },
    );
    await db.transaction(async (tx) => {
      await store.insertGitHubTask(tx, {
        taskId: task.id,
        repository: command.repository,
        installationId: command.installationId,
        number: command.number,
        headSha: null,
        createdAt: task.createdAt,
      });
      await queueGitHubUpdate(tx, this.#deps.boss, task.id);
      await store.markDeliveryHandled(tx, id, { at: now(), outcome: 'summary queued', taskId: task.id });
    });
  }

  async #startReview(id: string, trigger: ReviewTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const reviewed = await store.reviewOfCommit(db, trigger.repository, trigger.number, trigger.headSha);
    if (reviewed) {
      await store.markDeliveryHandled(db, id, {
        at: now(),
        outcome: `commit ${trigger.headSha.slice(0, 12)} was already reviewed`,
        taskId: reviewed.taskId,
      });
      return;
    }
    const recent = await store.reviewsSince(
      db,
      trigger.repository,
      trigger.number,
      new Date(now().getTime() - DAY_MS),
    );
    if (recent >= this.#deps.reviewsPerPullPerDay) {
      await store.markDeliveryHandled(db, id, {
        at: now(),
        outcome: `not reviewed: ${recent} review${recent === 1 ? '' : 's'} of this pull request in the past day already (GITHUB_REVIEWS_PER_PR_PER_DAY)`,
      });
      return;
    }
    // Keyed by the head commit: any delivery about the same commit (a replay, `reopened`) finds the
    // task of the first, so a commit is reviewed once.
    const key = `github:review:${trigger.repository}#${trigger.number}@${trigger.headSha}`;
    const submitted = await this.#deps.tasks
      .submit(
        { type: 'PR_REVIEW', payload: trigger.payload, priority: 5 },
        { actor: { name: GITHUB_ACTOR }, idempotencyKey: key },
      )
      .catch(async (error: unknown) => {
        if (error instanceof AppError && error.code === 'idempotency_key_reused') {
          return { task: undefined, created: false };
        }
        // A refusal (the repository policy, say) is final: retrying the job would not change it.
        if (error instanceof AppError && error.status < 500) {
          await store.markDeliveryHandled(db, id, { at: now(), outcome: `refused: ${error.message}` });
          return undefined;
        }
        throw error;
      });
    if (!submitted) return;
    const { task, created } = submitted;
    await db.transaction(async (tx) => {
      if (task) {
        await store.insertGitHubTask(tx, {
          taskId: task.id,
          repository: trigger.repository,
          installationId: trigger.installationId,
          number: trigger.number,
          headSha: trigger.headSha,
          createdAt: task.createdAt,
        });
        await queueGitHubUpdate(tx, this.#deps.boss, task.id);
      }
      await store.markDeliveryHandled(tx, id, {
        at: now(),
        outcome: created ? 'review queued' : `commit ${trigger.headSha.slice(0, 12)} was already reviewed`,
        ...(task ? { taskId: task.id } : {}),
      });
    });
  }

  /** Brings GitHub up to date with a task: tracking comment, check run, and the review once it succeeded. */
  async #updateTask(taskId: string): Promise<void> {
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
      },
      task.type === 'ISSUE_SUMMARY' ? issueSummaryText(task.result) : undefined,
    );
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
    {
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
    const post = (comments: typeof plan.comments, body: string) =>
      api.rest.pulls.createReview({
        ...where,
        pull_number: link.number,
        commit_id: commit,
        event: plan.event,
        body,
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
