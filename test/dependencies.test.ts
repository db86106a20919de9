import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { sealAudit } from '../src/audit/audit-log.ts';
import { auditLog } from '../src/store/schema.ts';
import { listEvents } from '../src/store/task-store.ts';
import { BACKENDS } from './support/databases.ts';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

const analysis = (extra: Record<string, unknown> = {}) => ({
  type: 'CODE_ANALYSIS',
  payload: { repository: 'owner/repo' },
  ...extra,
});

describe.each(BACKENDS)('task dependencies on %s', (backend) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const start = async (options: Parameters<typeof startTestSupervisor>[1]) => {
    const started = await startTestSupervisor(backend, options);
    cleanups.push(started.stop);
    return started;
  };
  const injectInto = (test: TestSupervisor) => (options: InjectOptions) =>
    test.supervisor.app.inject(options);
  const batch = (tasks: unknown[]): InjectOptions => ({
    method: 'POST',
    url: '/api/v1/tasks/batch',
    payload: { tasks },
  });

  it('runs a 5-node DAG in dependency order, independent branches free to overlap', async () => {
    const driver = new ScriptedDriver();
    const test = await start({ driver });
    const inject = injectInto(test);
    // Submitted out of order on purpose: the answer comes back in dependency order.
    const response = await inject(
      batch([
        analysis({ key: 'e', depends_on: ['d'] }),
        analysis({ key: 'd', depends_on: ['b', 'c'] }),
        analysis({ key: 'b', depends_on: ['a'] }),
        analysis({ key: 'c', depends_on: ['a'] }),
        analysis({ key: 'a' }),
      ]),
    );
    expect(response.statusCode, response.body).toBe(201);
    const { items, ids } = response.json();
    expect(items.map((task: { id: string }) => task.id)).toEqual(
      ['a', 'b', 'c', 'd', 'e'].map((k) => ids[k]),
    );
    expect(items.map((task: { status: string }) => task.status)).toEqual([
      'queued',
      'waiting',
      'waiting',
      'waiting',
      'waiting',
    ]);
    expect(items[3].depends_on.sort()).toEqual([ids.b, ids.c].sort());

    const done = Object.fromEntries(
      await Promise.all(
        Object.entries(ids as Record<string, string>).map(
          async ([key, id]) => [key, await test.waitForStatus(id, ['succeeded', 'failed'])] as const,
        ),
      ),
    );
    for (const task of Object.values(done)) expect(task.status).toBe('succeeded');
    const order = driver.runs.map((run) => Object.keys(ids).find((key) => ids[key] === run.taskId));
    expect(order).toHaveLength(5);
    expect(order[0]).toBe('a');
    expect(order.slice(1, 3).sort()).toEqual(['b', 'c']);
    expect(order.slice(3)).toEqual(['d', 'e']);
    // Stronger than start order: each task started only after everything it depends on had finished.
    const startedAfter = (task: string, dependency: string) =>
      expect(done[task]!.startedAt!.getTime()).toBeGreaterThanOrEqual(
        done[dependency]!.finishedAt!.getTime(),
      );
    startedAfter('b', 'a');
    startedAfter('c', 'a');
    startedAfter('d', 'b');
    startedAfter('d', 'c');
    startedAfter('e', 'd');

    const statuses = (await listEvents(test.supervisor.database.db, ids.d, { limit: 100 }))
      .filter((event) => event.type === 'status')
      .map((event) => (event.data as { status: string }).status);
    expect(statuses).toEqual(['waiting', 'queued', 'running', 'succeeded']);
    const listed = await inject({ method: 'GET', url: '/api/v1/tasks?status=waiting' });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items).toEqual([]);
  });

  it('refuses cycles, self-dependencies, unknown keys and unknown task ids with a 400 naming them', async () => {
    const test = await start({ driver: new ScriptedDriver() });
    const inject = injectInto(test);
    const refused = async (tasks: unknown[]) => {
      const response = await inject(batch(tasks));
      expect(response.statusCode, response.body).toBe(400);
      return response.json().error;
    };

    const cycle = await refused([
      analysis({ key: 'a', depends_on: ['b'] }),
      analysis({ key: 'b', depends_on: ['a'] }),
    ]);
    expect(cycle.code).toBe('validation_failed');
    expect(cycle.message).toContain('a → b → a');
    expect(cycle.details).toEqual([
      { field: 'body.tasks.0.depends_on', message: expect.stringContaining('cycle') },
    ]);

    const self = await refused([analysis({ key: 'a' }), analysis({ key: 'b', depends_on: ['b'] })]);
    expect(self.details).toEqual([
      { field: 'body.tasks.1.depends_on', message: 'a task cannot depend on itself (b → b)' },
    ]);

    const unknownKey = await refused([analysis({ key: 'a', depends_on: ['nope'] })]);
    expect(unknownKey.details).toEqual([
      { field: 'body.tasks.0.depends_on.0', message: '"nope" is neither a key of this batch nor a task id' },
    ]);

    const missing = '00000000-0000-4000-8000-000000000000';
    const unknownId = await refused([analysis({ key: 'a', depends_on: [missing] })]);
    expect(unknownId.details).toEqual([
      { field: 'body.tasks.0.depends_on', message: `no task with id ${missing}` },
    ]);
    const single = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: analysis({ depends_on: [missing] }),
    });
    expect(single.statusCode).toBe(400);
    expect(single.json().error.details).toEqual([
      { field: 'body.depends_on.0', message: `no task with id ${missing}` },
    ]);
    // Nothing of a refused batch was stored.
    expect((await inject({ method: 'GET', url: '/api/v1/tasks' })).json().items).toEqual([]);
  });

  it('fails the dependents of a failed task with dependency_failed, transitively, and says why', async () => {
    const driver = new ScriptedDriver({ outcomes: ['failed'] });
    const test = await start({ driver });
    const inject = injectInto(test);
    const response = await inject(
      batch([
        analysis({ key: 'a', max_attempts: 1 }),
        analysis({ key: 'b', depends_on: ['a'] }),
        analysis({ key: 'c', depends_on: ['b'] }),
      ]),
    );
    expect(response.statusCode, response.body).toBe(201);
    const { ids } = response.json();
    expect((await test.waitForStatus(ids.a, ['failed'])).outcome).toBe('failed');
    for (const key of ['b', 'c']) {
      const task = await test.waitForStatus(ids[key], ['failed']);
      expect(task.outcome).toBe('dependency_failed');
      expect(task.startedAt).toBeNull();
    }
    expect(driver.runs.map((run) => run.taskId)).toEqual([ids.a]);

    const view = (await inject({ method: 'GET', url: `/api/v1/tasks/${ids.c}` })).json();
    expect(view).toMatchObject({ status: 'failed', outcome: 'dependency_failed', depends_on: [ids.b] });
    expect(view.error).toContain(`dependency ${ids.b} failed`);
    const events = await listEvents(test.supervisor.database.db, ids.b, { limit: 100 });
    expect(events.map((event) => event.data)).toEqual([
      { status: 'waiting', outcome: null, error: null },
      { status: 'failed', outcome: 'dependency_failed', error: expect.stringContaining(ids.a) },
    ]);
    await sealAudit(test.supervisor.database.db);
    const audit = await test.supervisor.database.db.select().from(auditLog);
    const failures = audit.filter((row) => row.action === 'task.failed');
    expect(failures.map((row) => row.taskId).sort()).toEqual([ids.a, ids.b, ids.c].sort());
    expect(failures.find((row) => row.taskId === ids.c)?.details).toMatchObject({
      outcome: 'dependency_failed',
      dependency: { id: ids.b, status: 'failed' },
    });

    // Retrying a dependent before its dependency has succeeded would run it without that work.
    const retry = await inject({ method: 'POST', url: `/api/v1/tasks/${ids.b}/retry` });
    expect(retry.statusCode).toBe(409);
    expect(retry.json().error).toMatchObject({
      code: 'dependencies_not_succeeded',
      details: { dependencies: [{ id: ids.a, status: 'failed' }] },
    });
    // And a new task may not depend on a failed one.
    const late = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: analysis({ depends_on: [ids.a] }),
    });
    expect(late.statusCode).toBe(400);
    expect(late.json().error.message).toContain(`task ${ids.a} is failed`);
  });

  it('cancels a waiting task, which fails what waits on it', async () => {
    const driver = new ScriptedDriver({ holdUntilAborted: true });
    const test = await start({ driver });
    const inject = injectInto(test);
    const { ids } = (
      await inject(
        batch([
          analysis({ key: 'a' }),
          analysis({ key: 'b', depends_on: ['a'] }),
          analysis({ key: 'c', depends_on: ['b'] }),
        ]),
      )
    ).json();
    await driver.started(ids.a);
    const cancelled = await inject({ method: 'POST', url: `/api/v1/tasks/${ids.b}/cancel` });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', outcome: 'cancelled' });
    const c = await test.waitForStatus(ids.c, ['failed']);
    expect(c.outcome).toBe('dependency_failed');
    expect(c.error).toContain(`dependency ${ids.b} cancelled`);
    await inject({ method: 'POST', url: `/api/v1/tasks/${ids.a}/cancel` });
    await test.waitForStatus(ids.a, ['cancelled']);
  });

  it('queues at once a task whose dependencies have already succeeded, and waits on unfinished ones', async () => {
    const test = await start({ driver: new ScriptedDriver() });
    const inject = injectInto(test);
    const first = (await inject({ method: 'POST', url: '/api/v1/tasks', payload: analysis() })).json();
    await test.waitForStatus(first.id, ['succeeded']);
    const second = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: analysis({ depends_on: [first.id, first.id] }),
    });
    expect(second.statusCode).toBe(201);
    expect(second.json()).toMatchObject({ status: 'queued', depends_on: [first.id] });
    await test.waitForStatus(second.json().id, ['succeeded']);

    // A dependency that is still running: the new task waits for it.
    const held = new ScriptedDriver({ holdUntilAborted: true });
    const busy = await start({ driver: held });
    const injectBusy = injectInto(busy);
    const pending = (await injectBusy({ method: 'POST', url: '/api/v1/tasks', payload: analysis() })).json();
    await held.started(pending.id);
    const waiting = await injectBusy({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: analysis({ depends_on: [pending.id] }),
    });
    expect(waiting.json()).toMatchObject({ status: 'waiting', depends_on: [pending.id] });
    const listed = (await injectBusy({ method: 'GET', url: '/api/v1/tasks?status=waiting' })).json();
    expect(listed.items.map((task: { id: string }) => task.id)).toEqual([waiting.json().id]);
    const refused = await injectBusy({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: analysis({ depends_on: [pending.id], dedupe: true }),
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.details[0].field).toBe('body.dedupe');
    // A running dependency cancelled through its worker settles its dependents too.
    await injectBusy({ method: 'POST', url: `/api/v1/tasks/${pending.id}/cancel` });
    expect((await busy.waitForStatus(waiting.json().id, ['failed'])).outcome).toBe('dependency_failed');
  });
});
