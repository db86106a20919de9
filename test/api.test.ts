import { sql } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.ts';
import type { TokenService } from '../src/auth/token-service.ts';
import { MemoryEventBus } from '../src/events/memory-bus.ts';
import type { MemoryService } from '../src/memory/memory-service.ts';
import type { Notifier } from '../src/notify/notifier.ts';
import type { AgentPool } from '../src/pool/agent-pool.ts';
import { TASK_QUEUE } from '../src/queue/task-queue.ts';
import type { ScheduleService } from '../src/schedules/schedule-service.ts';
import type { Db } from '../src/store/database.ts';
import type { TaskService } from '../src/tasks/task-service.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

const seed = SEED_PR_REVIEW;

describe('REST API', () => {
  let test: TestSupervisor;
  const inject = (options: InjectOptions) => test.supervisor.app.inject(options);

  beforeAll(async () => {
    test = await startTestSupervisor('pglite', {
      env: { AGENT_DRIVER: 'echo', ECHO_DRIVER_DELAY_MS: '10', MAX_BODY_BYTES: '4096' },
    });
  });
  afterAll(() => test?.stop());

  it('accepts the seed-style task and runs it to a terminal state', async () => {
    const created = await inject({ method: 'POST', url: '/api/v1/tasks', payload: seed });
    expect(created.statusCode).toBe(201);
    const task = created.json();
    expect(task).toMatchObject({
      type: 'PR_REVIEW',
      status: 'queued',
      priority: 8,
      repository: 'owner/repo',
    });
    expect(created.headers['x-request-id']).toBeTruthy();

    await test.waitForStatus(task.id, ['succeeded']);
    const fetched = (await inject({ method: 'GET', url: `/api/v1/tasks/${task.id}` })).json();
    expect(fetched).toMatchObject({
      status: 'succeeded',
      outcome: 'succeeded',
      attempts: { count: 1, max: 3 },
    });
    expect(fetched.result.text).toContain('echo driver');

    const attempts = (await inject({ method: 'GET', url: `/api/v1/tasks/${task.id}/attempts` })).json();
    expect(attempts.items).toHaveLength(1);
    expect(attempts.items[0]).toMatchObject({ number: 1, driver: 'echo', outcome: 'succeeded' });
  });

  it('names every bad field in a 400', async () => {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { ...seed, priority: 0, payload: { ...seed.payload, pr_number: 'abc' } },
    });
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.code).toBe('validation_failed');
    expect(error.details).toEqual(
      expect.arrayContaining([
        { field: 'body.priority', message: 'Too small: expected number to be >=1' },
        { field: 'body.payload.pr_number', message: 'Invalid input: expected number, received string' },
      ]),
    );
    expect(error.message).toContain('body.priority');

    const badType = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { type: 'DEPLOY', payload: {} },
    });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().error.details[0].field).toBe('body.type');
  });

  it('keeps the agent CLI a submission prefers, and names an unknown one', async () => {
    const created = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { ...seed, agent_cli: 'codex' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ agent_cli: 'codex' });
    const plain = await inject({ method: 'POST', url: '/api/v1/tasks', payload: seed });
    expect(plain.json()).toMatchObject({ agent_cli: null });
    const unknown = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { ...seed, agent_cli: 'cursor' },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.details).toEqual([
      { field: 'body.agent_cli', message: 'expected one of claude-code, codex, gemini' },
    ]);
  });

  it('answers unreadable bodies with 400, 413 and 415', async () => {
    const notJson = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { 'content-type': 'application/json' },
      payload: '{"type":',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error).toEqual({
      code: 'validation_failed',
      message: 'the request body is not valid JSON',
    });

    const big = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { ...seed, payload: { ...seed.payload, diff: 'x'.repeat(5000) } },
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');

    const text = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');
  });

  it('replays an idempotent submission and refuses a reused key', async () => {
    const headers = { 'idempotency-key': 'api-key-1' };
    const first = await inject({ method: 'POST', url: '/api/v1/tasks', payload: seed, headers });
    const again = await inject({ method: 'POST', url: '/api/v1/tasks', payload: seed, headers });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);

    const other = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { ...seed, priority: 2 },
      headers,
    });
    expect(other.statusCode).toBe(409);
    expect(other.json().error).toMatchObject({
      code: 'idempotency_key_reused',
      details: { task_id: first.json().id },
    });
  });

  it('cancels, refuses an impossible change with what is allowed, and retries', async () => {
    const { id } = (
      await inject({
        method: 'POST',
        url: '/api/v1/tasks',
        payload: { ...seed, run_after: '2099-01-01T00:00:00Z' },
      })
    ).json();
    const cancelled = await inject({ method: 'POST', url: `/api/v1/tasks/${id}/cancel` });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', outcome: 'cancelled' });

    const again = await inject({ method: 'POST', url: `/api/v1/tasks/${id}/cancel` });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({
      code: 'invalid_transition',
      details: { status: 'cancelled', allowed: ['manual_retry'] },
    });

    const retried = await inject({ method: 'POST', url: `/api/v1/tasks/${id}/retry` });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ status: 'queued', outcome: null, run_after: null });
    await test.waitForStatus(id, ['succeeded']);
  });

  it('answers unknown things with 404 in the error shape', async () => {
    const route = await inject({ method: 'GET', url: '/api/v1/nothing?x=1' });
    expect(route.statusCode).toBe(404);
    expect(route.json()).toEqual({
      error: { code: 'not_found', message: 'no route for GET /api/v1/nothing' },
    });

    const task = await inject({ method: 'GET', url: '/api/v1/tasks/7a0f4a37-3cbb-4f4e-9a39-6f1f0d2a1b11' });
    expect(task.statusCode).toBe(404);
    expect(task.json().error.code).toBe('task_not_found');

    const badId = await inject({ method: 'GET', url: '/api/v1/tasks/not-a-uuid' });
    expect(badId.statusCode).toBe(400);
    expect(badId.json().error.details).toEqual([
      { field: 'params.id', message: 'expected a task id (UUID)' },
    ]);
  });

  it('rejects a forged cursor and bad filters', async () => {
    const cursor = await inject({ method: 'GET', url: '/api/v1/tasks?cursor=abc' });
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().error.code).toBe('invalid_cursor');
    const status = await inject({ method: 'GET', url: '/api/v1/tasks?status=done' });
    expect(status.statusCode).toBe(400);
    expect(status.json().error.details[0].field).toMatch(/^querystring\.status/);
  });

  it('summarises counts and cost', async () => {
    const summary = (await inject({ method: 'GET', url: '/api/v1/tasks/stats/summary' })).json();
    expect(summary.total).toBeGreaterThan(0);
    expect(Object.keys(summary.by_status)).toEqual([
      'waiting',
      'queued',
      'running',
      'retrying',
      'parked',
      'succeeded',
      'failed',
      'cancelled',
    ]);
    expect(summary.by_type.PR_REVIEW).toBe(summary.total);
  });

  it('reports health, readiness and detail', async () => {
    expect((await inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', agents_enabled: ['echo'] });
    const detailed = await inject({ method: 'GET', url: '/health/detailed' });
    expect(detailed.statusCode).toBe(200);
    expect(detailed.json()).toMatchObject({
      status: 'ok',
      state: 'ready',
      components: {
        database: { status: 'ok', details: { kind: 'pglite' } },
        queue: {
          status: 'ok',
          details: { jobs: { queued: expect.any(Number), active: expect.any(Number) } },
        },
        event_bus: { status: 'ok' },
        agents: { status: 'ok', details: { enabled: ['echo'], worker: { driver: 'echo' } } },
      },
    });
  });

  it('reports the agents down while none is enabled; readiness stays up and says so', async () => {
    expect((await inject({ method: 'POST', url: '/api/v1/agents/echo/pause' })).statusCode).toBe(200);
    try {
      const detailed = await inject({ method: 'GET', url: '/health/detailed' });
      expect(detailed.statusCode).toBe(503);
      expect(detailed.json().components.agents).toMatchObject({
        status: 'down',
        details: { enabled: [], paused: ['echo'] },
        error: expect.stringContaining('supervisor agents resume'),
      });
      expect((await inject({ method: 'GET', url: '/readyz' })).json()).toEqual({
        status: 'ready',
        agents_enabled: [],
      });
    } finally {
      await inject({ method: 'POST', url: '/api/v1/agents/echo/resume' });
    }
  });

  it('reports the queue degraded when pg-boss’s monitor has not run for ten of its intervals', async () => {
    // As if the monitor had last run an hour ago and had just now been claimed (so it does not run).
    await test.supervisor.database.db.execute(
      sql`update pgboss.queue set monitor_on = now() - interval '1 hour', monitor_claim_on = now() where name = ${TASK_QUEUE}`,
    );
    const queue = (await inject({ method: 'GET', url: '/health/detailed' })).json().components.queue;
    expect(queue).toMatchObject({
      status: 'degraded',
      details: { monitored_seconds_ago: expect.any(Number) },
      error: expect.stringContaining("pg-boss's monitor last ran"),
    });
    expect(queue.details.monitored_seconds_ago).toBeGreaterThanOrEqual(3600);
  });

  it('answers a wrong method on a known path with 405 and the methods it takes', async () => {
    const put = await inject({ method: 'PUT', url: '/api/v1/tasks' });
    expect(put.statusCode).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD, POST');
    expect(put.json().error).toMatchObject({ code: 'method_not_allowed' });
    const patch = await inject({
      method: 'PATCH',
      url: '/api/v1/tasks/00000000-0000-4000-8000-000000000001',
    });
    expect(patch.statusCode).toBe(405);
    expect(patch.headers.allow).toBe('GET, HEAD');
    expect((await inject({ method: 'GET', url: '/api/v1/nowhere' })).statusCode).toBe(404);
  });

  it('serves OpenAPI 3.1 and the docs page', async () => {
    const spec = (await inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/tasks',
        '/api/v1/tasks/{id}',
        '/api/v1/tasks/{id}/cancel',
        '/api/v1/tasks/{id}/retry',
        '/api/v1/tasks/{id}/attempts',
        '/api/v1/tasks/stats/summary',
        '/healthz',
        '/readyz',
        '/health/detailed',
      ]),
    );
    const docs = await inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger-ui');
  });
});

describe('API edges without a running supervisor', () => {
  const logger = pino({ level: 'silent' });
  const security = {
    authMode: 'none' as const,
    corsOrigins: [],
    submitPerMinute: 60,
    submitPerMinutePerIp: 60,
  };

  it('is not ready while starting, but alive', async () => {
    const app = await buildApp({
      logger,
      maxBodyBytes: 1024,
      version: 'test',
      state: () => 'starting',
      services: () => undefined,
      security,
    });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'starting' });
    const tasks = await app.inject({ method: 'GET', url: '/api/v1/tasks' });
    expect(tasks.statusCode).toBe(503);
    expect(tasks.json().error.code).toBe('not_ready');
    await app.close();
  });

  it('hides internal error details behind a request id', async () => {
    const failing = {
      list: async () => {
        throw new Error('relation "tasks" does not exist: select password from secrets');
      },
    } as unknown as TaskService;
    const app = await buildApp({
      logger,
      maxBodyBytes: 1024,
      version: 'test',
      state: () => 'ready',
      services: () => ({
        tasks: failing,
        pool: {} as AgentPool,
        bus: new MemoryEventBus(),
        health: { check: async () => ({}), ready: async () => ({ problems: [], agentsEnabled: [] }) },
        tokens: {} as TokenService,
        notifier: {} as Notifier,
        db: {} as Db,
        schedules: {} as ScheduleService,
        memory: {} as MemoryService,
      }),
      security,
    });
    const response = await app.inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { 'x-request-id': 'req-42' },
    });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      error: { code: 'internal_error', message: 'internal error; quote request id req-42 when reporting it' },
    });
    expect(response.body).not.toContain('password');
    await app.close();
  });
});
