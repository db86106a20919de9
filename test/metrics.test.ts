import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Samples of the exposition text: `name{labels} value`, labels parsed. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const result = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!;
    result.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return result;
}

function promtool(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(readFileSync(file));
  });
}

function hasPromtool(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('promtool', ['--version'], { timeout: 10_000 }, (error) => resolve(!error));
  });
}

describe('GET /api/v1/metrics (Prometheus)', () => {
  let test: TestSupervisor;
  const driver = new ScriptedDriver({ outcomes: ['failed', 'succeeded'] });
  const inject = (options: InjectOptions) => test.supervisor.app.inject(options);
  const submit = async (extra: Record<string, unknown> = {}) => {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { ...SEED_PR_REVIEW, ...extra },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  };
  let scrape: string;
  let contentType: string;

  beforeAll(async () => {
    test = await startTestSupervisor('pglite', { driver });
    // Retried then succeeded; failed for good (one attempt allowed).
    const retried = await submit({ max_attempts: 3 });
    const failed = await submit({ max_attempts: 1 });
    await test.waitForStatus(retried, ['succeeded']);
    await test.waitForStatus(failed, ['failed']);
    // Cancelled while waiting for its start time.
    const later = await submit({ run_after: new Date(Date.now() + 3_600_000).toISOString() });
    // A live subscriber, so the event bus lag has a delivery to time.
    const delivered: string[] = [];
    const unsubscribe = test.supervisor.bus.subscribe(later, (message) => delivered.push(message.type));
    expect((await inject({ method: 'POST', url: `/api/v1/tasks/${later}/cancel` })).statusCode).toBe(200);
    unsubscribe();
    expect(delivered).toContain('status');
    // Parked while the only agent is paused, then cancelled.
    expect((await inject({ method: 'POST', url: '/api/v1/agents/echo/pause', payload: {} })).statusCode).toBe(
      200,
    );
    const parked = await submit();
    await test.waitForStatus(parked, ['parked']);
    // A 404 for the HTTP histogram's `unmatched` route.
    expect((await inject({ method: 'GET', url: `/api/v1/nowhere/${parked}` })).statusCode).toBe(404);
    const response = await inject({ method: 'GET', url: '/api/v1/metrics' });
    expect(response.statusCode, response.body).toBe(200);
    scrape = response.body;
    contentType = String(response.headers['content-type']);
    await inject({ method: 'POST', url: `/api/v1/tasks/${parked}/cancel` });
  }, 60_000);
  afterAll(() => test?.stop());

  const value = (name: string, labels: Record<string, string> = {}) =>
    samples(scrape)
      .filter((sample) => sample.name === name)
      .filter((sample) => Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted))
      .reduce((sum, sample) => sum + sample.value, 0);

  it('answers in the Prometheus text format', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scrape).toContain('# TYPE supervisor_tasks_submitted_total counter');
    expect(scrape).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('counts tasks submitted, finished, retried and parked', () => {
    expect(value('supervisor_tasks_submitted_total', { type: 'PR_REVIEW' })).toBe(4);
    expect(
      value('supervisor_tasks_finished_total', {
        type: 'PR_REVIEW',
        status: 'succeeded',
        outcome: 'succeeded',
      }),
    ).toBe(1);
    expect(
      value('supervisor_tasks_finished_total', { type: 'PR_REVIEW', status: 'failed', outcome: 'failed' }),
    ).toBe(1);
    expect(value('supervisor_tasks_finished_total', { status: 'cancelled' })).toBe(1);
    expect(value('supervisor_task_retries_total', { type: 'PR_REVIEW', outcome: 'failed' })).toBe(1);
    // The only agent is paused: parked for want of an enabled agent.
    expect(value('supervisor_task_parks_total', { type: 'PR_REVIEW', reason: 'no_agent' })).toBe(1);
  });

  it('reports attempts, tokens and cost by agent, model and type', () => {
    expect(value('supervisor_attempt_duration_seconds_count', { type: 'PR_REVIEW', agent: 'echo' })).toBe(3);
    expect(value('supervisor_attempt_duration_seconds_count', { outcome: 'failed' })).toBe(2);
    expect(value('supervisor_tokens_total', { agent: 'echo', type: 'PR_REVIEW', kind: 'input' })).toBe(30);
    expect(value('supervisor_tokens_total', { kind: 'output' })).toBe(15);
    expect(value('supervisor_cost_usd_total', { agent: 'echo', type: 'PR_REVIEW' })).toBeCloseTo(0.003, 9);
  });

  it('reads the queue and the agents from the database at scrape time', () => {
    expect(value('supervisor_queue_tasks', { status: 'parked', priority: '8' })).toBe(1);
    expect(value('supervisor_queue_tasks')).toBe(1);
    expect(value('supervisor_queue_oldest_age_seconds', { status: 'parked' })).toBeGreaterThanOrEqual(0);
    expect(value('supervisor_agent_state', { agent: 'echo', state: 'paused' })).toBe(1);
    expect(value('supervisor_agent_state', { agent: 'echo', state: 'active' })).toBe(0);
    expect(value('supervisor_agent_running', { agent: 'echo' })).toBe(0);
  });

  it('times HTTP requests by route template and the event bus delivery', () => {
    expect(
      value('supervisor_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/tasks',
        status_class: '2xx',
      }),
    ).toBe(4);
    expect(
      value('supervisor_http_request_duration_seconds_count', { route: 'unmatched', status_class: '4xx' }),
    ).toBe(1);
    expect(value('supervisor_event_bus_lag_seconds_count', { bus: 'memory' })).toBeGreaterThan(0);
  });

  it('never uses task ids or other UUIDs as label values', () => {
    for (const sample of samples(scrape)) {
      for (const label of Object.values(sample.labels)) expect(label, sample.name).not.toMatch(UUID);
    }
  });

  it('passes `promtool check metrics`', async (context) => {
    if (!(await hasPromtool())) {
      if (process.env.CI) throw new Error('promtool is not installed (Debian: apt-get install prometheus)');
      console.warn('promtool not found: skipping `promtool check metrics` (it is required when CI is set)');
      context.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
    try {
      const file = join(dir, 'scrape.prom');
      writeFileSync(file, scrape);
      const { code, output } = await promtool(file);
      expect(code, output).toBe(0);
      expect(output.trim(), output).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
