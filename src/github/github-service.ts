import { verify } from '@octokit/webhooks-methods';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { appendAudit } from '../audit/audit-log.ts';
import { AppError } from '../core/errors.ts';
import type { CursorPosition } from '../store/cursor.ts';
import type { Db } from '../store/database.ts';
import { storable } from '../store/storable.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { GitHubClients } from './client.ts';
import { gitHubGitOrigin } from './git-access.ts';
import { GITHUB_QUEUE, type GitHubJob, sendJob } from './github-queue.ts';
import { GitHubRequests } from './github-requests.ts';
import * as store from './github-store.ts';
import { missedDeliveries, RECONCILE_LOOKBACK_MS, WATCHED_FOR_MS } from './reconcile.ts';
import {
  DEFAULT_REPO_CONFIG,
  type ParsedRepoConfig,
  parseRepoConfig,
  REPO_CONFIG_PATH,
} from './repo-config.ts';
import type { FailOn } from './review.ts';
import { GitHubTaskUpdates } from './task-updates.ts';
import { triggerFor } from './triggers.ts';

const DAY_MS = 86_400_000;
/** A repository's .github/supervisor.yml is read again after this long. */
const CONFIG_TTL_MS = 60_000;
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
 * The GitHub edge. In: signed webhook deliveries (and those the reconcile pass finds GitHub never
 * made), stored once per delivery id and handled from the queue: the repository's settings are
 * read, and what the delivery asks for is done by github-requests.ts. Out: each such task's
 * updates, posted from the same queue (task-updates.ts). And the operator's view of it all.
 */
export class GitHubService {
  readonly #deps: GitHubServiceDeps;
  readonly #logger: Logger;
  readonly #updates: GitHubTaskUpdates;
  readonly #requests: GitHubRequests;
  #reconcileTimer: NodeJS.Timeout | undefined;
  readonly #configs = new Map<string, { at: number; parsed: ParsedRepoConfig }>();

  constructor(deps: GitHubServiceDeps) {
    this.#deps = deps;
    this.#logger = deps.logger.child({ component: 'github' });
    this.#updates = new GitHubTaskUpdates(deps);
    this.#requests = new GitHubRequests(deps, (repository) => {
      const parsed = this.#configs.get(repository)?.parsed;
      return parsed?.ok ? parsed.config.agent_cli : undefined;
    });
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
        return trigger.kind === 'command'
          ? this.#requests.command(id, trigger)
          : this.#requests.message(id, trigger);
      case 'new_issue':
        if (!config.summarize_new_issues) {
          return handled(`new issues are summarized with summarize_new_issues: true in ${REPO_CONFIG_PATH}`);
        }
        return this.#requests.newIssue(id, trigger);
      case 'check_failed':
        if (!config.commands) return handled(`commands are off (commands: false in ${REPO_CONFIG_PATH})`);
        return this.#requests.checkFailed(id, trigger);
      case 'pr_review':
        if (!config.reviews) return handled(`reviews are off (reviews: false in ${REPO_CONFIG_PATH})`);
        if (trigger.draft && !config.review_drafts) {
          return handled('draft pull requests are reviewed when marked ready');
        }
        return this.#requests.review(id, trigger);
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
}
