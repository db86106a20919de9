import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskStatus } from '../src/core/task-status.ts';
import type { TaskType } from '../src/core/task-types.ts';
import { insertDelivery } from '../src/github/github-store.ts';
import { startRetention } from '../src/runtime/retention.ts';
import type { Db } from '../src/store/database.ts';
import { githubDeliveries, submissions } from '../src/store/schema.ts';
import { insertSubmission } from '../src/store/submission-store.ts';
import {
  deleteFinishedTasks,
  getTask,
  insertAttempt,
  insertDependencies,
  insertEvents,
  insertTask,
  listAttempts,
  listEvents,
} from '../src/store/task-store.ts';
import { sweepPolicy } from '../src/workspace/sweep-policy.ts';
import { BACKENDS, freshDatabase, type TestDatabase } from './support/databases.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-12-06T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

async function task(
  db: Db,
  type: TaskType,
  status: TaskStatus,
  finishedAt: Date | null,
  submissionId: string | null = null,
) {
  return insertTask(db, {
    id: randomUUID(),
    type,
    status,
    priority: 5,
    repository: 'acme/app',
    payload: { repository: 'acme/app', description: 'x' },
    maxAttempts: 3,
    submittedBy: 'test',
    submissionId,
    createdAt: ago(200 * DAY),
    updatedAt: finishedAt ?? NOW,
    finishedAt,
  });
}

async function attempt(db: Db, taskId: string, endedAt: Date | null) {
  return insertAttempt(db, {
    id: randomUUID(),
    taskId,
    number: 1,
    driver: 'scripted',
    workerId: 'w',
    startedAt: ago(200 * DAY),
    endedAt,
  });
}

describe.each(BACKENDS)('retention on %s', (backend) => {
  let testDb: TestDatabase | undefined;
  afterEach(async () => {
    await testDb?.drop();
    testDb = undefined;
  });

  it('deletes finished tasks past retention with their attempts and events, and nothing else', async () => {
    testDb = await freshDatabase(backend);
    const db = testDb.database.db;
    const old = await task(db, 'BUG_FIX', 'succeeded', ago(100 * DAY));
    await attempt(db, old.id, ago(100 * DAY));
    await insertEvents(db, [
      { taskId: old.id, type: 'status', data: { status: 'succeeded' }, createdAt: ago(100 * DAY) },
    ]);
    const recent = await task(db, 'BUG_FIX', 'failed', ago(10 * DAY));
    const live = await task(db, 'CODE_ANALYSIS', 'running', null);
    // An old dependency of a task still waiting stays while that task waits.
    const needed = await task(db, 'CODE_ANALYSIS', 'succeeded', ago(100 * DAY));
    const waiting = await task(db, 'CODE_ANALYSIS', 'waiting', null);
    await insertDependencies(db, [{ taskId: waiting.id, dependsOnId: needed.id }]);

    expect(await deleteFinishedTasks(db, ago(90 * DAY), 1000)).toBe(1);
    expect(await getTask(db, old.id)).toBeUndefined();
    expect(await listAttempts(db, old.id)).toEqual([]);
    expect(await listEvents(db, old.id, { limit: 10 })).toEqual([]);
    for (const kept of [recent, live, needed, waiting]) expect(await getTask(db, kept.id)).toBeDefined();
  });

  it('tells the sweeper what a worker may remove', async () => {
    testDb = await freshDatabase(backend);
    const db = testDb.database.db;
    const policy = sweepPolicy(db, () => NOW, DAY);
    const review = await task(db, 'PR_REVIEW', 'succeeded', ago(1000));
    const reviewAttempt = await attempt(db, review.id, ago(1000));
    const fix = await task(db, 'BUG_FIX', 'running', null);
    const fixOpen = await attempt(db, fix.id, null);
    const fixDone = await task(db, 'BUG_FIX', 'succeeded', ago(1000));
    const fixDoneAttempt = await attempt(db, fixDone.id, ago(1000));
    const fixOld = await task(db, 'BUG_FIX', 'succeeded', ago(2 * DAY));
    const fixOldAttempt = await attempt(db, fixOld.id, ago(2 * DAY));
    const gone = randomUUID();

    // Tasks: a finished read-only one at once, a finished mutating one after the retention period.
    expect(await policy.keepTask(review.id)).toBe(false);
    expect(await policy.keepTask(fix.id)).toBe(true);
    expect(await policy.keepTask(fixDone.id)).toBe(true);
    expect(await policy.keepTask(fixOld.id)).toBe(false);
    expect(await policy.keepTask(gone)).toBe(false);
    expect(await policy.keepTask('not-a-task-directory')).toBe(true);
    // Attempts: the same, attempt by attempt, whatever the task's status.
    expect(await policy.keepAttempt(review.id, reviewAttempt.id)).toBe(false);
    expect(await policy.keepAttempt(fix.id, fixOpen.id)).toBe(true);
    expect(await policy.keepAttempt(fixDone.id, fixDoneAttempt.id)).toBe(true);
    expect(await policy.keepAttempt(fixOld.id, fixOldAttempt.id)).toBe(false);
    expect(await policy.keepAttempt(fix.id, randomUUID())).toBe(false);
    expect(await policy.existingTasks([fix.id, gone, 'x'])).toEqual(new Set([fix.id]));
    // Agent sessions (what a follow-up message resumes) are kept for every type, for the period.
    const sessions = sweepPolicy(db, () => NOW, DAY, { everyType: true });
    expect(await sessions.keepTask(review.id)).toBe(true);
    expect(await sessions.keepAttempt(review.id, reviewAttempt.id)).toBe(true);
    expect(await sessions.keepTask(fixOld.id)).toBe(false);
  });

  it('runs at once when started, and deletes batch submissions once their tasks are gone, and old GitHub deliveries', async () => {
    testDb = await freshDatabase(backend);
    const db = testDb.database.db;
    const batch = { id: randomUUID(), submittedBy: 'test', taskCount: 3, createdAt: ago(200 * DAY) };
    const kept = { ...batch, id: randomUUID(), taskCount: 1 };
    await insertSubmission(db, batch);
    await insertSubmission(db, kept);
    const old = await Promise.all(
      Array.from({ length: 3 }, () => task(db, 'CODE_ANALYSIS', 'succeeded', ago(100 * DAY), batch.id)),
    );
    await task(db, 'CODE_ANALYSIS', 'succeeded', ago(DAY), kept.id);
    const delivery = (id: string, receivedAt: Date) =>
      insertDelivery(db, { id, event: 'ping', action: null, repository: null, payload: {}, receivedAt });
    await delivery('old-delivery', ago(100 * DAY));
    await delivery('new-delivery', ago(DAY));
    const stop = startRetention({ db, logger: pino({ level: 'silent' }), now: () => NOW, taskDays: 90 });
    const submissionIds = async () => (await db.select().from(submissions)).map((row) => row.id);
    try {
      await expect
        .poll(async () => (await Promise.all(old.map((t) => getTask(db, t.id)))).filter(Boolean).length)
        .toBe(0);
      await expect.poll(submissionIds).toEqual([kept.id]);
      await expect
        .poll(async () => (await db.select().from(githubDeliveries)).map((row) => row.id))
        .toEqual(['new-delivery']);
    } finally {
      stop();
    }
  });
});
