import { verify } from '@octokit/webhooks-methods';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { appendAudit } from '../audit/audit-log.ts';
import { AppError } from '../core/errors.ts';
import { LIMITS, type TaskSubmission } from '../core/task-types.ts';
import type { CursorPosition } from '../store/cursor.ts';
import type { Db } from '../store/database.ts';
import type { GitHubTaskRow } from '../store/schema.ts';
import { storable } from '../store/storable.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { type GitHubClients, NO_RETRY } from './client.ts';
import { gitHubGitOrigin } from './git-access.ts';
import { GITHUB_ACTOR, GITHUB_QUEUE, type GitHubJob, queueGitHubUpdate, sendJob } from './github-queue.ts';
import * as store from './github-store.ts';
import { pushedChangeOf } from './pull-request.ts';
import { missedDeliveries, RECONCILE_LOOKBACK_MS, WATCHED_FOR_MS } from './reconcile.ts';
import {
  DEFAULT_REPO_CONFIG,
  type ParsedRepoConfig,
  parseRepoConfig,
  REPO_CONFIG_PATH,
} from './repo-config.ts';
import type { FailOn } from './review.ts';
import { GitHubTaskUpdates } from './task-updates.ts';
import {
  CHANGE_COMMANDS,
  type CheckFailedTrigger,
  COMMANDS,
  type CommandTrigger,
  type MessageTrigger,
  type ReviewTrigger,
  reviewTrigger,
  triggerFor,
} from './triggers.ts';

const DAY_MS = 86_400_000;
/** A repository's .github/supervisor.yml is read again after this long. */
const CONFIG_TTL_MS = 60_000;
/** GitHub's permission levels that may push (`maintain` reads as `write` in this field). */
const WRITERS = new Set(['admin', 'write']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
  /** Minutes between reconcile passes (0: only on demand). */
  reconcileMinutes: number;
  /** The least finding severity that fails the check run. */
  failOn: FailOn;
  /** Dashboard base URL for links (PUBLIC_URL). */
  publicUrl?: string;
  /** Hears of each delivery answered, for metrics. */
  onDelivery?: (
    event: string | undefined,
    result: 'accepted' | 'duplicate' | 'refused' | 'reconciled',
  ) => void;
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
 * queue (a pull request opened or pushed to, or a comment command, starts a task). Out: each such
 * task's updates, posted from the same queue (task-updates.ts).
 */
export class GitHubService {
  readonly #deps: GitHubServiceDeps;
  readonly #logger: Logger;
  readonly #updates: GitHubTaskUpdates;
  #reconcileTimer: NodeJS.Timeout | undefined;
  readonly #configs = new Map<string, { at: number; parsed: ParsedRepoConfig }>();

  constructor(deps: GitHubServiceDeps) {
    this.#deps = deps;
    this.#logger = deps.logger.child({ component: 'github' });
    this.#updates = new GitHubTaskUpdates(deps);
  }

  async start(): Promise<void> {
    await this.#deps.boss.work<GitHubJob>(
      GITHUB_QUEUE,
      { batchSize: 1, pollingIntervalSeconds: 1 },
      async ([job]) => {
        if (!job) return;
        if (job.data.kind === 'delivery') await this.#handleDelivery(job.data.id);
        else if (job.data.kind === 'task') await this.#updates.update(job.data.taskId);
        else await this.reconcile();
      },
    );
    if (this.#deps.reconcileMinutes > 0) {
      // Every process asks; the queue holds one pass at a time (its singleton key), cluster-wide.
      this.#reconcileTimer = setInterval(() => {
        sendJob(this.#deps.db, this.#deps.boss, { kind: 'reconcile' }, 'reconcile').catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'could not queue the GitHub reconcile pass'),
        );
      }, this.#deps.reconcileMinutes * 60_000);
      this.#reconcileTimer.unref();
    }
  }

  /**
   * Catches what GitHub never delivered: in each repository heard from in the past week, the open
   * pull requests and the @-comments of the past day that no delivery named (see reconcile.ts) are
   * stored as deliveries (`reconciled`) and handled like any other.
   */
  async reconcile(): Promise<{ repositories: number; found: number }> {
    const { db, now } = this.#deps;
    const watched = await store.recentRepositories(db, new Date(now().getTime() - WATCHED_FOR_MS));
    let found = 0;
    for (const repository of watched) {
      const missed = await missedDeliveries(this.#deps.clients.for(repository.installationId), repository, {
        since: new Date(now().getTime() - RECONCILE_LOOKBACK_MS),
        mention: this.#deps.mention,
        known: {
          head: (number, sha) => store.headKnown(db, repository.repository, number, sha),
          comment: (id) => store.commentKnown(db, repository.repository, id),
        },
      });
      for (const delivery of missed) {
        const stored = await this.#store({
          ...delivery,
          repository: repository.repository,
          receivedAt: now(),
          reconciled: true,
        });
        if (!stored) continue;
        found += 1;
        this.#deps.onDelivery?.(delivery.event, 'reconciled');
        this.#logger.warn(
          { delivery: delivery.id, event: delivery.event, repository: repository.repository },
          'GitHub never delivered this; the reconcile pass found it',
        );
      }
    }
    return { repositories: watched.length, found };
  }

  async stop(): Promise<void> {
    clearInterval(this.#reconcileTimer);
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
    const fresh = await this.#store({
      id: deliveryId,
      event,
      action: typeof payload.action === 'string' ? payload.action : null,
      repository: typeof repository === 'string' ? repository : null,
      payload,
      receivedAt: this.#deps.now(),
    });
    return { duplicate: !fresh };
  }

  /** Stores a delivery and queues its handling, unless its id was seen before; true when it is new. */
  async #store(delivery: store.NewDelivery): Promise<boolean> {
    return this.#deps.db.transaction(async (tx) => {
      // A payload is GitHub's text, which may hold what PostgreSQL cannot store (an escaped NUL).
      const fresh = await store.insertDelivery(tx, { ...delivery, payload: storable(delivery.payload) });
      if (fresh) {
        await sendJob(tx, this.#deps.boss, { kind: 'delivery', id: delivery.id }, `delivery:${delivery.id}`);
      }
      return fresh;
    });
  }

  /** How the GitHub edge stands, for `supervisor github status`. */
  async status() {
    const { db, now } = this.#deps;
    const counts = await store.deliveryCounts(db, new Date(now().getTime() - DAY_MS));
    const { mode, appId, apiUrl } = this.#deps.clients.describe();
    return {
      mode,
      app_id: appId,
      api_url: apiUrl,
      git_origin: gitHubGitOrigin(apiUrl),
      mention: this.#deps.mention,
      webhook_secrets: this.#deps.webhookSecrets.length,
      reconcile_minutes: this.#deps.reconcileMinutes,
      deliveries: {
        last_24h: counts.received,
        reconciled_last_24h: counts.reconciled,
        waiting: counts.waiting,
        last_received_at: counts.lastReceivedAt?.toISOString() ?? null,
      },
    };
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
    const handled = (outcome: string) => store.markDeliveryHandled(db, id, { at: now(), outcome });
    const settings = await this.#repoConfig(trigger.repository, trigger.installationId);
    // A file that cannot be read may be there to turn something off: nothing is done until it is fixed.
    if (!settings.ok) return handled(`not acted on: ${settings.error}`);
    const { config } = settings;
    switch (trigger.kind) {
      case 'command':
      case 'message':
        if (!config.commands) return handled(`commands are off (commands: false in ${REPO_CONFIG_PATH})`);
        return trigger.kind === 'command' ? this.#command(id, trigger) : this.#message(id, trigger);
      case 'new_issue':
        if (!config.summarize_new_issues) {
          return handled(`new issues are summarized with summarize_new_issues: true in ${REPO_CONFIG_PATH}`);
        }
        return this.#startSummary(id, {
          ...trigger,
          kind: 'command',
          command: 'summarize',
          commentId: null,
          request: '',
        });
      case 'check_failed':
        if (!config.commands) return handled(`commands are off (commands: false in ${REPO_CONFIG_PATH})`);
        return this.#checkFailed(id, trigger);
      case 'pr_review':
        if (!config.reviews) return handled(`reviews are off (reviews: false in ${REPO_CONFIG_PATH})`);
        if (trigger.draft && !config.review_drafts) {
          return handled('draft pull requests are reviewed when marked ready');
        }
        return this.#startReview(id, trigger);
    }
  }

  /**
   * The repository's .github/supervisor.yml from its default branch (defaults without one), read
   * at most once a minute per repository.
   */
  async #repoConfig(repository: string, installationId: number | null): Promise<ParsedRepoConfig> {
    const cached = this.#configs.get(repository);
    if (cached && this.#deps.now().getTime() - cached.at < CONFIG_TTL_MS) return cached.parsed;
    const [owner, repo] = repository.split('/') as [string, string];
    const parsed = await this.#deps.clients
      .for(installationId)
      .rest.repos.getContent({ owner, repo, path: REPO_CONFIG_PATH })
      .then(
        ({ data }) =>
          'content' in data && typeof data.content === 'string'
            ? parseRepoConfig(Buffer.from(data.content, 'base64').toString('utf8'))
            : ({ ok: false, error: `${REPO_CONFIG_PATH} is not a file` } as const),
        (error: unknown) => {
          if ((error as { status?: number }).status === 404)
            return { ok: true, config: DEFAULT_REPO_CONFIG } as const;
          throw error;
        },
      );
    this.#configs.set(repository, { at: this.#deps.now().getTime(), parsed });
    return parsed;
  }

  /**
   * Whether `actor` may push to the repository, which asking for work needs. Otherwise the delivery
   * is marked refused, and with `reply` they are told so where they asked.
   */
  async #mayWrite(
    id: string,
    asked: { repository: string; installationId: number | null; number: number; actor: string },
    what: string,
    reply: boolean,
  ): Promise<boolean> {
    const api = this.#deps.clients.for(asked.installationId);
    const [owner, repo] = asked.repository.split('/') as [string, string];
    const { data: access } = await api.rest.repos.getCollaboratorPermissionLevel({
      owner,
      repo,
      username: asked.actor,
    });
    if (WRITERS.has(access.permission)) return true;
    if (reply) {
      await this.#reply(
        asked,
        `@${asked.actor} only people with write access to ${asked.repository} can ask me to ${what}.`,
      );
    }
    await store.markDeliveryHandled(this.#deps.db, id, {
      at: this.#deps.now(),
      outcome: `refused: ${asked.actor} has ${access.permission} access, and ${what} needs write`,
    });
    return false;
  }

  /** A comment on the issue or pull request where something was asked (audited, like every write). */
  async #reply(
    asked: { repository: string; installationId: number | null; number: number },
    body: string,
  ): Promise<void> {
    const [owner, repo] = asked.repository.split('/') as [string, string];
    const { data } = await this.#deps.clients.for(asked.installationId).rest.issues.createComment({
      owner,
      repo,
      issue_number: asked.number,
      body,
      request: NO_RETRY,
    });
    await this.#deps.db.transaction((tx) =>
      appendAudit(tx, {
        at: this.#deps.now(),
        actor: GITHUB_ACTOR,
        action: 'github.comment_posted',
        details: { repository: asked.repository, number: asked.number, comment_id: data.id, reply: true },
      }),
    );
  }

  /**
   * A command (a comment's, or a label's): only from someone who may push to the repository (a
   * reader is told so, and nothing runs). `review` reviews the head commit as if it was just pushed.
   */
  async #command(id: string, command: CommandTrigger): Promise<void> {
    if (!(await this.#mayWrite(id, command, command.command, true))) return;
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    if (command.command === 'summarize') return this.#startSummary(id, command);
    if (command.command === 'analyze') return this.#startAnalysis(id, command);
    if (CHANGE_COMMANDS.has(command.command)) return this.#startChange(id, command);
    const { data: pull } = await api.rest.pulls.get({ owner, repo, pull_number: command.number });
    await this.#startReview(id, reviewTrigger(command.repository, command.installationId, pull));
  }

  /**
   * Words on a pull request the supervisor opened (a review, or `@supervisor <request>`) from
   * someone with write access: a message to the task that opened it, whose session resumes on its
   * branch and pushes again. Elsewhere, or while that task still runs, they start nothing.
   */
  async #message(id: string, message: MessageTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const handled = (outcome: string, taskId?: string) =>
      store.markDeliveryHandled(db, id, { at: now(), outcome, ...(taskId ? { taskId } : {}) });
    const fromComment = message.reviewId === null;
    const link = await store.taskOfPull(db, message.repository, message.number);
    if (!link) {
      if (fromComment) {
        await this.#reply(
          message,
          `@${message.actor} I take requests on pull requests I opened. Here I can: ${COMMANDS.filter((c) => !CHANGE_COMMANDS.has(c)).join(', ')}.`,
        );
      }
      return handled('not a pull request the supervisor opened');
    }
    if (!(await this.#mayWrite(id, message, 'follow up', fromComment))) return;
    const text = await this.#messageText(message);
    if (!text) return handled('the review says nothing to act on');
    const sent = await this.#deps.tasks
      .sendMessage(link.taskId, text, { name: `github:${message.actor}` }, { source: message.source })
      .catch(async (error: unknown) => {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        await this.#reply(message, `@${message.actor} ${error.message}`);
        await handled(`refused: ${error.message}`, link.taskId);
        return undefined;
      });
    if (sent) {
      const waits = sent.message.runBase === null;
      await handled(
        waits ? 'follow-up queued: it runs when the run in progress ends' : 'follow-up sent',
        link.taskId,
      );
    }
  }

  /**
   * A check that failed on the head of a pull request the supervisor opened (not one of its own
   * checks): a message to the task that opened it, with what the check said and its annotations,
   * so the agent fixes it in the same session and pushes again. A failure on an older commit, or on
   * anyone else's pull request, starts nothing; TASK_MESSAGES_MAX bounds the cycles.
   */
  async #checkFailed(id: string, check: CheckFailedTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const handled = (outcome: string, taskId?: string) =>
      store.markDeliveryHandled(db, id, { at: now(), outcome, ...(taskId ? { taskId } : {}) });
    if (check.appId !== null && check.appId === this.#deps.clients.describe().appId) {
      return handled('the supervisor’s own check asks for no fix');
    }
    for (const number of check.numbers) {
      const link = await store.taskOfPull(db, check.repository, number);
      if (!link) continue;
      const { task } = await this.#deps.tasks.get(link.taskId);
      if (pushedChangeOf(task.result)?.pushed.commit !== check.headSha) {
        return handled(
          `the check ran on ${check.headSha.slice(0, 12)}, not on the last commit pushed`,
          link.taskId,
        );
      }
      const [owner, repo] = check.repository.split('/') as [string, string];
      const { data: annotations } = await this.#deps.clients
        .for(check.installationId)
        .rest.checks.listAnnotations({ owner, repo, check_run_id: check.checkRunId, per_page: 50 });
      const text = [
        check.text,
        ...annotations.map(
          (a) =>
            `${a.path}:${a.start_line}: ${a.annotation_level ?? 'note'}: ${a.title ? `${a.title}: ` : ''}${a.message ?? ''}`,
        ),
      ]
        .join('\n')
        .slice(0, LIMITS.longTextChars);
      const sent = await this.#deps.tasks
        .sendMessage(
          link.taskId,
          text,
          { name: 'github-check' },
          { source: `github:check_run:${check.checkRunId}` },
        )
        .catch(async (error: unknown) => {
          if (!(error instanceof AppError) || error.status >= 500) throw error;
          await handled(`no fix asked: ${error.message}`, link.taskId);
          return undefined;
        });
      if (sent) await handled('fix asked', link.taskId);
      return;
    }
    return handled('not a pull request the supervisor opened');
  }

  /** A comment's request as it is; a review's body followed by its inline comments, each with its place. */
  async #messageText(message: MessageTrigger): Promise<string> {
    if (message.reviewId === null) return message.text;
    const [owner, repo] = message.repository.split('/') as [string, string];
    const { data: comments } = await this.#deps.clients
      .for(message.installationId)
      .rest.pulls.listCommentsForReview({
        owner,
        repo,
        pull_number: message.number,
        review_id: message.reviewId,
        per_page: 100,
      });
    const inline = comments.map((c) => `On ${c.path}${c.line ? ` line ${c.line}` : ''}: ${c.body}`);
    if (!message.text && inline.length === 0) return '';
    return [`Review by @${message.actor}:`, message.text, ...inline]
      .filter(Boolean)
      .join('\n\n')
      .slice(0, LIMITS.longTextChars);
  }

  /** An ISSUE_SUMMARY of the issue (or pull request) as it reads now: title, body, people's comments. */
  async #startSummary(id: string, command: CommandTrigger): Promise<void> {
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
    await this.#launch(id, {
      submission: { type: 'ISSUE_SUMMARY', payload, priority: 5 },
      // One summary per comment, or one for the issue's opening.
      key: `github:summary:${command.repository}#${command.commentId ?? `${command.number}:opened`}`,
      link: { ...command, headSha: null, url: issue.html_url },
      queued: 'summary queued',
    });
  }

  /**
   * `@supervisor analyze [focus]`: a CODE_ANALYSIS of a pull request's head commit, or of the
   * default branch for an issue, its findings in the tracking comment. The focus is what the
   * comment says after the command, else the issue's title.
   */
  async #startAnalysis(id: string, command: CommandTrigger): Promise<void> {
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: command.number });
    const ref = issue.pull_request
      ? (await api.rest.pulls.get({ owner, repo, pull_number: command.number })).data.head.sha
      : undefined;
    const focus = (command.request || issue.title).slice(0, LIMITS.shortTextChars);
    await this.#launch(id, {
      submission: {
        type: 'CODE_ANALYSIS',
        payload: { repository: command.repository, ...(ref ? { ref } : {}), ...(focus ? { focus } : {}) },
        priority: 5,
      },
      key: `github:analyze:${command.repository}#${command.commentId}`,
      link: { ...command, headSha: null, url: issue.html_url },
      queued: 'analysis queued',
    });
  }

  /**
   * `@supervisor fix` or `implement` on an issue, or their labels: a BUG_FIX or FEATURE task on the
   * default branch, its change pushed as a branch of its own; its update then opens the pull request.
   */
  async #startChange(id: string, command: CommandTrigger): Promise<void> {
    const api = this.#deps.clients.for(command.installationId);
    const [owner, repo] = command.repository.split('/') as [string, string];
    const { data: repository } = await api.rest.repos.get({ owner, repo });
    const { data: issue } = await api.rest.issues.get({ owner, repo, issue_number: command.number });
    const title = issue.title.slice(0, LIMITS.shortTextChars) || '(untitled)';
    // One comment, or one label delivery, asks for one change.
    const source = command.commentId === null ? `label-${id.slice(0, 8)}` : `comment-${command.commentId}`;
    const description = [
      `GitHub issue #${command.number} in ${command.repository}: ${title}`,
      issue.body ?? '',
      command.request ? `@${command.actor} adds: ${command.request}` : '',
    ]
      .filter(Boolean)
      .join('\n\n')
      .slice(0, LIMITS.longTextChars);
    await this.#launch(id, {
      submission: {
        type: command.command === 'fix' ? 'BUG_FIX' : 'FEATURE',
        payload: {
          repository: command.repository,
          base_ref: repository.default_branch,
          description,
          push_branch: `supervisor/${command.command}-${command.number}-${source}`,
        },
        priority: 5,
      },
      key: `github:${command.command}:${command.repository}#${command.number}:${source}`,
      link: { ...command, headSha: null, title, url: issue.html_url },
      queued: `${command.command} queued`,
    });
  }

  async #startReview(id: string, trigger: ReviewTrigger): Promise<void> {
    const { db, now } = this.#deps;
    const reviewed = await store.reviewOfCommit(db, trigger.repository, trigger.number, trigger.headSha);
    const already = `commit ${trigger.headSha.slice(0, 12)} was already reviewed`;
    if (reviewed) {
      await store.markDeliveryHandled(db, id, { at: now(), outcome: already, taskId: reviewed.taskId });
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
    await this.#launch(id, {
      submission: { type: 'PR_REVIEW', payload: trigger.payload, priority: 5 },
      // Keyed by the head commit: any delivery about the same commit (a replay, `reopened`) finds
      // the task of the first, so a commit is reviewed once.
      key: `github:review:${trigger.repository}#${trigger.number}@${trigger.headSha}`,
      link: trigger,
      queued: 'review queued',
      already,
    });
  }

  /**
   * Submits a delivery's task (once per `key`), links it to its issue or pull request and queues
   * its first update, and marks the delivery handled, saying what came of it.
   */
  async #launch(
    id: string,
    start: {
      submission: TaskSubmission;
      key: string;
      link: Pick<GitHubTaskRow, 'repository' | 'installationId' | 'number' | 'headSha'> & {
        title?: string;
        url?: string | null;
      };
      queued: string;
      already?: string;
    },
  ): Promise<void> {
    const { db, now } = this.#deps;
    const submitted = await this.#deps.tasks
      .submit(start.submission, { actor: { name: GITHUB_ACTOR }, idempotencyKey: start.key })
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
        const { repository, installationId, number, headSha, title, url } = start.link;
        await store.insertGitHubTask(tx, {
          taskId: task.id,
          repository,
          installationId,
          number,
          headSha,
          ...(title ? { title } : {}),
          ...(url ? { url } : {}),
          createdAt: task.createdAt,
        });
        await queueGitHubUpdate(tx, this.#deps.boss, task.id);
      }
      await store.markDeliveryHandled(tx, id, {
        at: now(),
        outcome: created ? start.queued : (start.already ?? 'already started by an earlier delivery'),
        ...(task ? { taskId: task.id } : {}),
      });
    });
  }
}
