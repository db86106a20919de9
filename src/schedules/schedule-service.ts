import { randomUUID } from 'node:crypto';
import { and, asc, eq, lte } from 'drizzle-orm';
import type { Logger } from 'pino';
import { appendAudit } from '../audit/audit-log.ts';
import { AppError } from '../core/errors.ts';
import type { TaskSubmission } from '../core/task-types.ts';
import type { Db } from '../store/database.ts';
import { type ScheduleRow, schedules } from '../store/schema.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { cronProblem, nextRun } from './cron.ts';

export interface NewSchedule {
  name: string;
  cron: string;
  submission: TaskSubmission;
  enabled: boolean;
}

/**
 * Recurring tasks. Each due schedule submits its task with the idempotency key
 * `schedule:<id>:<due time>` and only then moves its next run forward (if it is still the one
 * this tick saw): a crash between the two re-submits with the same key, which returns the same
 * task, and two processes ticking at once make one task. No run is lost or doubled.
 */
export class ScheduleService {
  readonly #deps: { db: Db; tasks: TaskService; logger: Logger; now: () => Date };
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: { db: Db; tasks: TaskService; logger: Logger; now: () => Date }) {
    this.#deps = deps;
  }

  start(tickMs: number): void {
    this.#timer = setInterval(() => {
      this.tick().catch((error: unknown) => this.#deps.logger.warn({ err: error }, 'schedule tick failed'));
    }, tickMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async create(input: NewSchedule, actor: string): Promise<ScheduleRow> {
    const problem = cronProblem(input.cron);
    if (problem) {
      throw new AppError('validation_failed', `invalid body: body.cron: ${problem}`, [
        { field: 'body.cron', message: problem },
      ]);
    }
    const now = this.#deps.now();
    return this.#deps.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(schedules)
        .values({
          id: randomUUID(),
          name: input.name,
          cron: input.cron,
          submission: input.submission as unknown as Record<string, unknown>,
          enabled: input.enabled,
          nextRunAt: nextRun(input.cron, now),
          createdBy: actor,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      await appendAudit(tx, {
        at: now,
        actor,
        action: 'schedule.created',
        details: { scheduleId: row!.id, name: input.name, cron: input.cron, type: input.submission.type },
      });
      return row!;
    });
  }

  list(): Promise<ScheduleRow[]> {
    return this.#deps.db.select().from(schedules).orderBy(asc(schedules.createdAt), asc(schedules.id));
  }

  /** Enables (from the next time the expression names) or disables a schedule. */
  async setEnabled(id: string, enabled: boolean, actor: string): Promise<ScheduleRow> {
    const now = this.#deps.now();
    return this.#deps.db.transaction(async (tx) => {
      const [current] = await tx.select().from(schedules).where(eq(schedules.id, id)).for('update');
      if (!current) throw new AppError('schedule_not_found', `no schedule with id ${id}`);
      const [row] = await tx
        .update(schedules)
        .set({
          enabled,
          ...(enabled && !current.enabled ? { nextRunAt: nextRun(current.cron, now) } : {}),
          updatedAt: now,
        })
        .where(eq(schedules.id, id))
        .returning();
      await appendAudit(tx, {
        at: now,
        actor,
        action: enabled ? 'schedule.enabled' : 'schedule.disabled',
        details: { scheduleId: id, name: current.name },
      });
      return row!;
    });
  }

  async remove(id: string, actor: string): Promise<void> {
    const now = this.#deps.now();
    await this.#deps.db.transaction(async (tx) => {
      const [row] = await tx.delete(schedules).where(eq(schedules.id, id)).returning();
      if (!row) throw new AppError('schedule_not_found', `no schedule with id ${id}`);
      await appendAudit(tx, {
        at: now,
        actor,
        action: 'schedule.deleted',
        details: { scheduleId: id, name: row.name },
      });
    });
  }

  /** Submits the task of every enabled schedule that is due; returns how many were submitted. */
  async tick(now: Date = this.#deps.now()): Promise<number> {
    const due = await this.#deps.db
      .select()
      .from(schedules)
      .where(and(eq(schedules.enabled, true), lte(schedules.nextRunAt, now)));
    let submitted = 0;
    for (const schedule of due) {
      const { task } = await this.#deps.tasks.submit(schedule.submission as unknown as TaskSubmission, {
        actor: { name: `schedule:${schedule.name}` },
        idempotencyKey: `schedule:${schedule.id}:${schedule.nextRunAt.toISOString()}`,
      });
      const [moved] = await this.#deps.db
        .update(schedules)
        .set({
          nextRunAt: nextRun(schedule.cron, now),
          lastRunAt: schedule.nextRunAt,
          lastTaskId: task.id,
          updatedAt: now,
        })
        .where(and(eq(schedules.id, schedule.id), eq(schedules.nextRunAt, schedule.nextRunAt)))
        .returning();
      if (moved) submitted += 1;
    }
    return submitted;
  }
}
