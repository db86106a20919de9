import { describe, expect, it } from 'vitest';
import { channelsFor, parseRoutes } from './rules.ts';

describe('notification routes', () => {
  it('sends each kind to the channels that list it, and everything to unlisted channels', () => {
    const parsed = parseRoutes('email=agents_exhausted, agent_disabled ; webhook=*');
    if ('error' in parsed) throw new Error(parsed.error);
    const configured = ['slack', 'email', 'webhook'] as const;
    expect(channelsFor('task_failed', configured, parsed.routes)).toEqual(['slack', 'webhook']);
    expect(channelsFor('agent_disabled', configured, parsed.routes)).toEqual(['slack', 'email', 'webhook']);
    expect(channelsFor('task_failed', ['email'], parsed.routes)).toEqual([]);
  });

  it('names what is wrong with a route', () => {
    expect(parseRoutes('sms=*')).toEqual({ error: 'unknown channel "sms" (expected slack, email, webhook)' });
    expect(parseRoutes('slack=')).toMatchObject({ error: expect.stringContaining('list the alert kinds') });
    expect(parseRoutes('slack=task_failed,oops')).toMatchObject({
      error: expect.stringContaining('unknown alert kind oops'),
    });
  });
});
