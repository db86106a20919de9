import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

describe('schedules', () => {
  let test: TestSupervisor | undefined;
  afterEach(() => test?.stop());

  it('submits its task at each time the cron expression names (fake clock), and not while disabled', async () => {
    let clock = new Date('2026-11-24T10:07:00Z');
    const driver = new ScriptedDriver();
    test = await startTestSupervisor('pglite', { driver, now: () => clock });
    const { app, schedules } = test.supervisor;
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/schedules',
      payload: {
        name: 'quarter-hourly analysis',
        cron: '*/15 * * * *',
        submission: { type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' } },
      },
    });
    expect(created.statusCode).toBe(201);
    const schedule = created.json();
    expect(schedule).toMatchObject({
      enabled: true,
      next_run_at: '2026-11-24T10:15:00.000Z',
      last_task_id: null,
    });

    const at = async (iso: string) => {
      clock = new Date(iso);
      return schedules.tick();
    };
    expect(await at('2026-11-24T10:14:59Z')).toBe(0);
    expect(await at('2026-11-24T10:15:00Z')).toBe(1);
    expect(await at('2026-11-24T10:20:00Z')).toBe(0); // next is 10:30
    // Two ticks at once (two processes) make one task: the second finds the run already moved.
    clock = new Date('2026-11-24T10:31:00Z');
    expect((await Promise.all([schedules.tick(), schedules.tick()])).reduce((a, b) => a + b, 0)).toBe(1);
    const listed = (await app.inject({ method: 'GET', url: '/api/v1/schedules' })).json().items[0];
    expect(listed).toMatchObject({
      next_run_at: '2026-11-24T10:45:00.000Z',
      last_run_at: '2026-11-24T10:30:00.000Z',
    });

    const tasks = (await app.inject({ method: 'GET', url: '/api/v1/tasks' })).json().items as Array<{
      id: string;
      submitted_by: string;
    }>;
    expect(tasks).toHaveLength(2);
    expect(tasks.every((task) => task.submitted_by === 'schedule:quarter-hourly analysis')).toBe(true);
    expect(tasks.map((task) => task.id)).toContain(listed.last_task_id);

    const disabled = await app.inject({ method: 'POST', url: `/api/v1/schedules/${schedule.id}/disable` });
    expect(disabled.json()).toMatchObject({ enabled: false });
    expect(await at('2026-11-24T11:00:00Z')).toBe(0);
    const enabled = await app.inject({ method: 'POST', url: `/api/v1/schedules/${schedule.id}/enable` });
    // Enabled again from its next time, not with the runs it missed.
    expect(enabled.json()).toMatchObject({ enabled: true, next_run_at: '2026-11-24T11:15:00.000Z' });

    expect((await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${schedule.id}` })).statusCode).toBe(
      204,
    );
    expect(
      (await app.inject({ method: 'DELETE', url: `/api/v1/schedules/${schedule.id}` })).json().error.code,
    ).toBe('schedule_not_found');
  });

  it('refuses a bad cron expression or submission with a 400 naming the field', async () => {
    test = await startTestSupervisor('pglite', { worker: false, env: { AUTH_MODE: 'tokens' } });
    const post = (payload: Record<string, unknown>) =>
      test!.supervisor.app.inject({
        method: 'POST',
        url: '/api/v1/schedules',
        headers: { authorization: `Bearer ${test!.adminToken}` },
        payload,
      });
    const submission = { type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' } };
    const badCron = await post({ name: 'x', cron: '61 * * * *', submission });
    expect(badCron.statusCode).toBe(400);
    expect(badCron.json().error.details).toEqual([
      { field: 'body.cron', message: expect.stringContaining('expected range 0-59') },
    ]);
    const badSubmission = await post({ name: 'x', cron: '0 * * * *', submission: { type: 'NOPE' } });
    expect(badSubmission.statusCode).toBe(400);
    expect(badSubmission.json().error.message).toContain('body.submission');
  });
});
