import { randomUUID } from 'node:crypto';
import { asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, type PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { sealAudit } from '../audit/audit-log.ts';
import { type Db, queryRows } from '../store/database.ts';
import { auditLog, notifyCursor, pendingAlerts } from '../store/schema.ts';
import { type Alert, alertFromAudit } from './alerts.ts';
import type { NotificationChannel } from './channels/channel.ts';
import { dueGroups, notificationFor, type PendingAlert } from './grouping.ts';
import type { Notification } from './message.ts';
import { type ChannelName, channelsFor, type RoutableKind, type Routes } from './rules.ts';
import { dayFigures, lastSummaryTime, summaryNotification } from './summary.ts';

/** Deliveries go through their own pg-boss queue: a channel that is down delays only itself. */
export const NOTIFY_QUEUE = 'supervisor-notify';
/** One process at a time turns audit records into notifications. */
const NOTIFY_LOCK_KEY = 7_020_424_616;
const AUDIT_PAGE = 1000;

export interface NotifierDeps {
  db: Db;
  boss: PgBoss;
  channels: ReadonlyMap<ChannelName, NotificationChannel>;
  routes: Routes;
  /** How long a group collects alerts before it is sent as one message. */
  windowMs: number;
  /** First retry delay of a failed delivery (it grows exponentially). */
  retryDelaySeconds: number;
  /** Base URL the messages link to (PUBLIC_URL). */
  publicUrl?: string;
  /** UTC hour of the daily summary (NOTIFY_DAILY_SUMMARY_HOUR); none when undefined. */
  summaryHour?: number;
  logger: Logger;
  now: () => Date;
}

interface DeliveryJob {
  channel: ChannelName;
  notification: Omit<Notification, 'firstAt' | 'lastAt' | 'at'> & {
    firstAt: string;
    lastAt: string;
    at: string;
  };
}

export interface TestResult {
  channel: ChannelName;
  ok: boolean;
  error?: string;
  latency_ms: number;
}

/**
 * Turns the audit log into notifications. `tick` reads new audit records, keeps those that are
 * alerts as pending rows, and once a group has waited its window sends one notification per
 * routed channel — as jobs on the notify queue, in the same transaction that removes the pending
 * rows and moves the audit cursor, so a crash neither loses nor repeats one. Delivery jobs retry
 * with exponential backoff; task processing never waits for them.
 */
export class Notifier {
  readonly #deps: NotifierDeps;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
  }

  get configured(): ChannelName[] {
    return [...this.#deps.channels.keys()];
  }

  /** Creates the queue, starts delivering, and ticks every `tickMs` (tests call `tick` themselves). */
  async start(options: { tickMs?: number } = {}): Promise<void> {
    const { boss, db } = this.#deps;
    // The first start alerts about what happens from now on, not about the whole history.
    await db
      .insert(notifyCursor)
      .values({ id: 1, lastAuditId: sql`(select coalesce(max(${auditLog.id}), 0) from ${auditLog})` })
      .onConflictDoNothing();
    await boss.createQueue(NOTIFY_QUEUE, {
      retryLimit: 100,
      retryDelay: this.#deps.retryDelaySeconds,
      retryBackoff: true,
      retryDelayMax: 3600,
      expireInSeconds: 120,
      retentionSeconds: 7 * 24 * 3600,
    });
    await boss.work<DeliveryJob>(NOTIFY_QUEUE, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([job]) => {
      if (job) await this.#deliver(job.data);
    });
    if (options.tickMs) {
      this.#timer = setInterval(() => {
        this.tick().catch((error: unknown) =>
          this.#deps.logger.warn({ err: error }, 'notification tick failed; retrying'),
        );
      }, options.tickMs);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#deps.boss.offWork(NOTIFY_QUEUE, { wait: true }).catch(() => undefined);
  }

  /** Collects new alerts from the audit log and queues the groups that are due. */
  async tick(now: Date = this.#deps.now()): Promise<{ collected: number; queued: number }> {
    const { db } = this.#deps;
    await sealAudit(db);
    return db.transaction(async (tx) => {
      const [lock] = await queryRows<{ locked: boolean }>(
        tx,
        sql`select pg_try_advisory_xact_lock(${NOTIFY_LOCK_KEY}) as locked`,
      );
      if (!lock?.locked) return { collected: 0, queued: 0 };
      const [cursor] = await tx.select().from(notifyCursor).where(eq(notifyCursor.id, 1));
      const lastId = cursor?.lastAuditId ?? 0;
      const records = await tx
        .select()
        .from(auditLog)
        .where(gt(auditLog.id, lastId))
        .orderBy(asc(auditLog.id))
        .limit(AUDIT_PAGE);
      const alerts = records
        .map((record) => alertFromAudit(record))
        .filter((alert): alert is Alert => alert !== undefined);
      if (alerts.length) await tx.insert(pendingAlerts).values(alerts);
      if (records.length) {
        await tx
          .update(notifyCursor)
          .set({ lastAuditId: records.at(-1)!.id })
          .where(eq(notifyCursor.id, 1));
      }

      const pending = (await tx.select().from(pendingAlerts)) as PendingAlert[];
      let queued = 0;
      const enqueue = async (notification: Notification) => {
        for (const channel of channelsFor(
          notification.kind as RoutableKind,
          this.configured,
          this.#deps.routes,
        )) {
          await this.#deps.boss.send(
            NOTIFY_QUEUE,
            { channel, notification: serialise(notification) },
            { db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql) },
          );
          queued += 1;
        }
      };
      if (this.#deps.summaryHour !== undefined) {
        const due = lastSummaryTime(now, this.#deps.summaryHour);
        const last = cursor?.lastSummaryAt;
        if (!last || last < due) {
          // The first start only remembers the hour: the first summary covers the next whole day.
          if (last) {
            const figures = await dayFigures(tx, new Date(due.getTime() - 86_400_000), due);
            await enqueue(summaryNotification(figures, { id: randomUUID(), now, ...this.#link() }));
          }
          await tx.update(notifyCursor).set({ lastSummaryAt: due }).where(eq(notifyCursor.id, 1));
        }
      }
      for (const group of dueGroups(pending, now, this.#deps.windowMs)) {
        await enqueue(notificationFor(group, { id: randomUUID(), now, ...this.#link() }));
        await tx.delete(pendingAlerts).where(
          inArray(
            pendingAlerts.id,
            group.map((alert) => alert.id),
          ),
        );
      }
      return { collected: alerts.length, queued };
    });
  }

  /** Sends a test message on every configured channel now (not queued) and says how each went. */
  async sendTest(now: Date = this.#deps.now()): Promise<TestResult[]> {
    const notification: Notification = {
      id: randomUUID(),
      kind: 'test',
      severity: 'info',
      title: 'Test notification from the supervisor',
      what: 'This channel is configured correctly: the supervisor can reach it.',
      subject: {},
      action: 'Nothing to do.',
      ...(this.#deps.publicUrl
        ? { link: `${this.#deps.publicUrl.replace(/\/+$/, '')}/health/detailed` }
        : {}),
      count: 1,
      firstAt: now,
      lastAt: now,
      at: now,
    };
    return Promise.all(
      [...this.#deps.channels].map(async ([name, channel]) => {
        const started = performance.now();
        try {
          await channel.send(notification);
          return { channel: name, ok: true, latency_ms: Math.round(performance.now() - started) };
        } catch (error) {
          return {
            channel: name,
            ok: false,
            error: error instanceof Error ? error.message : String(error),
            latency_ms: Math.round(performance.now() - started),
          };
        }
      }),
    );
  }

  #link(): { publicUrl?: string } {
    return this.#deps.publicUrl ? { publicUrl: this.#deps.publicUrl } : {};
  }

  async #deliver(job: DeliveryJob): Promise<void> {
    const channel = this.#deps.channels.get(job.channel);
    if (!channel) {
      this.#deps.logger.warn(
        { channel: job.channel },
        'notification for a channel no longer configured dropped',
      );
      return;
    }
    try {
      await channel.send(revive(job.notification));
    } catch (error) {
      // Thrown on, so pg-boss retries it later with backoff; only this channel's messages wait.
      this.#deps.logger.warn(
        { err: error, channel: job.channel, notification: job.notification.id },
        'notification delivery failed; it will be retried',
      );
      throw error;
    }
  }
}

function serialise(notification: Notification): DeliveryJob['notification'] {
  return {
    ...notification,
    firstAt: notification.firstAt.toISOString(),
    lastAt: notification.lastAt.toISOString(),
    at: notification.at.toISOString(),
  };
}

function revive(data: DeliveryJob['notification']): Notification {
  return { ...data, firstAt: new Date(data.firstAt), lastAt: new Date(data.lastAt), at: new Date(data.at) };
}
