import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

/** GET /api/v1/tasks/changes: every task's status changes, live, over a real HTTP connection. */

interface Frame {
  event: string;
  data: { task_id?: string; data?: { status?: string } };
}

/** Reads SSE frames off a streaming response, one at a time. */
function frames(response: Response): () => Promise<Frame> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return async () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const event = lines.find((line) => line.startsWith('event: '))?.slice(7);
        const data = lines.find((line) => line.startsWith('data: '))?.slice(6);
        if (event && data) return { event, data: JSON.parse(data) };
        continue; // `retry:` and heartbeat comments
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      buffer += value;
    }
  };
}

describe('the task status stream', () => {
  let test: TestSupervisor;
  beforeAll(async () => {
    test = await startTestSupervisor('pglite', {
      listen: true,
      env: { AUTH_MODE: 'tokens', ECHO_DRIVER_DELAY_MS: '50' },
    });
  });
  afterAll(() => test?.stop());

  it('needs a token like every other read', async () => {
    const refused = await fetch(`${test.url}/api/v1/tasks/changes`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('opens with ready, then carries every status change of a task submitted after', async () => {
    const headers = { authorization: `Bearer ${test.adminToken}` };
    const stop = new AbortController();
    const response = await fetch(`${test.url}/api/v1/tasks/changes`, { headers, signal: stop.signal });
    try {
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const next = frames(response);
      expect((await next()).event).toBe('ready');
      const submitted = await fetch(`${test.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' } }),
      });
      const { id } = (await submitted.json()) as { id: string };
      const statuses: string[] = [];
      while (statuses.at(-1) !== 'succeeded') {
        const frame = await next();
        expect(frame.event).toBe('status');
        if (frame.data.task_id === id) statuses.push(frame.data.data!.status!);
      }
      expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    } finally {
      stop.abort();
    }
  });

  // Runs last: it stops the supervisor (afterAll's stop is then a no-op).
  it('ends open streams when the supervisor stops, so shutdown does not wait on clients', async () => {
    const headers = { authorization: `Bearer ${test.adminToken}` };
    const json = { ...headers, 'content-type': 'application/json' };
    // A task that cannot finish: its only agent is paused, so its own event stream stays open too.
    const paused = await fetch(`${test.url}/api/v1/agents/echo/pause`, {
      method: 'POST',
      headers: json,
      body: '{}',
    });
    expect(paused.status).toBe(200);
    const submitted = await fetch(`${test.url}/api/v1/tasks`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' } }),
    });
    const { id } = (await submitted.json()) as { id: string };
    const streams = [
      await fetch(`${test.url}/api/v1/tasks/changes`, { headers }),
      await fetch(`${test.url}/api/v1/tasks/${id}/events`, { headers }),
    ];
    const ended = streams.map(async (response) => {
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      while (!(await reader.read()).done) {}
      return true;
    });
    await test.stop();
    expect(await Promise.all(ended)).toEqual([true, true]);
  });
});
