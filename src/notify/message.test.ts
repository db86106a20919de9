import { describe, expect, it } from 'vitest';
import { headline, type Notification, toSlackBlocks, toText, toWebhookPayload, when } from './message.ts';

const t0 = new Date('2026-11-24T10:00:00Z');

const single: Notification = {
  id: '0b9c6f1e-2a35-4c39-9d43-5f0b6f2f0a11',
  kind: 'task_failed',
  severity: 'warning',
  title: 'Task 7f3c failed (timeout)',
  what: 'The BUG_FIX task on acme/api failed after its retries.',
  subject: { taskId: '7f3c', agentId: 'claude-2' },
  why: 'the agent stalled; evidence: no output for 600 s',
  action: 'Read its attempts (supervisor show 7f3c), fix the cause, then retry it (supervisor retry 7f3c).',
  link: 'https://sv.example.com/api/v1/tasks/7f3c',
  count: 1,
  firstAt: t0,
  lastAt: t0,
  at: new Date(t0.getTime() + 60_000),
};

const storm: Notification = {
  ...single,
  kind: 'agents_exhausted',
  severity: 'critical',
  title: 'Every agent is out of quota: tasks are parked',
  subject: {},
  count: 12,
  lastAt: new Date(t0.getTime() + 50_000),
};

describe('headline', () => {
  it('adds the count and the span when a grouped title does not give them', () => {
    expect(headline(single)).toBe('Task 7f3c failed (timeout)');
    expect(headline(storm)).toBe('Every agent is out of quota: tasks are parked (12 times in 50 s)');
  });

  it('leaves a title that already states the count alone, and does not mistake 112 for 12', () => {
    expect(headline({ ...storm, title: '12 tasks failed after their retries' })).toBe(
      '12 tasks failed after their retries',
    );
    expect(headline({ ...storm, title: 'Task 112 failed' })).toBe('Task 112 failed (12 times in 50 s)');
  });

  it('says when: one time, or the span of a group (the date once when it is one day)', () => {
    expect(when(single)).toBe('2026-11-24 10:00:00 UTC');
    expect(when(storm)).toBe('12 events, 2026-11-24 10:00:00 – 10:00:50 UTC');
    expect(when({ ...storm, lastAt: new Date('2026-11-25T00:00:10Z') })).toBe(
      '12 events, 2026-11-24 10:00:00 – 2026-11-25 00:00:10 UTC',
    );
  });
});

describe('toText', () => {
  it('reads on its own: what, to what, why, what to do, where to look, when', () => {
    expect(toText(single)).toBe(
      [
        '[WARNING] Task 7f3c failed (timeout)',
        'The BUG_FIX task on acme/api failed after its retries.',
        'Task: 7f3c\nAgent: claude-2',
        'Why: the agent stalled; evidence: no output for 600 s',
        'What to do: Read its attempts (supervisor show 7f3c), fix the cause, then retry it (supervisor retry 7f3c).',
        'Open: https://sv.example.com/api/v1/tasks/7f3c',
        'When: 2026-11-24 10:00:00 UTC',
        `-- \nsupervisor · task_failed · warning · notification ${single.id}`,
      ].join('\n\n'),
    );
  });

  it('leaves out what it does not have, and indents evidence that spans lines', () => {
    const text = toText({ ...storm, why: 'line one\nline two', link: undefined });
    expect(text).toContain('[CRITICAL] Every agent is out of quota: tasks are parked (12 times in 50 s)');
    expect(text).toContain('Why:\n  line one\n  line two');
    expect(text).not.toContain('Task:');
    expect(text).not.toContain('Open:');
  });
});

describe('toSlackBlocks', () => {
  it('has a header, the subject as fields, why, what to do, a dashboard link and a text fallback', () => {
    const { text, blocks } = toSlackBlocks(single);
    expect(text).toBe(
      'WARNING: Task 7f3c failed (timeout). The BUG_FIX task on acme/api failed after its retries.',
    );
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Task 7f3c failed (timeout)', emoji: true },
    });
    expect(blocks).toContainEqual({
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: '*Task*\n`7f3c`' },
        { type: 'mrkdwn', text: '*Agent*\n`claude-2`' },
      ],
    });
    const rendered = JSON.stringify(blocks);
    expect(rendered).toContain('*What to do*\\nRead its attempts');
    expect(rendered).toContain('<https://sv.example.com/api/v1/tasks/7f3c|Open in the dashboard>');
    expect(blocks.at(-1)).toMatchObject({ type: 'context' });
  });

  it('escapes markup in what it quotes and keeps within Slack’s limits', () => {
    const { text, blocks } = toSlackBlocks({
      ...single,
      title: 'x'.repeat(400),
      what: 'a <@U123> & <!channel> mention',
      why: 'first line\n```nested```',
      link: 'https://sv.example.com/?a=1&b=2|3',
    });
    const header = blocks[0] as { text: { text: string } };
    expect(header.text.text).toHaveLength(150);
    expect(text).toContain('a &lt;@U123&gt; &amp; &lt;!channel&gt; mention');
    const rendered = JSON.stringify(blocks);
    expect(rendered).not.toContain('<@U123>');
    expect(rendered).toContain("```first line\\n'''nested'''```");
    expect(rendered).toContain('<https://sv.example.com/?a=1&amp;b=2%7C3|Open in the dashboard>');
  });
});

describe('toWebhookPayload', () => {
  it('is a Standard Webhooks body: a type, the time it was made, and snake_case data with nulls', () => {
    expect(toWebhookPayload({ ...storm, why: undefined, link: undefined })).toEqual({
      type: 'supervisor.agents_exhausted',
      timestamp: '2026-11-24T10:01:00.000Z',
      data: {
        id: single.id,
        kind: 'agents_exhausted',
        severity: 'critical',
        title: 'Every agent is out of quota: tasks are parked (12 times in 50 s)',
        what: single.what,
        subject: { task_id: null, agent_id: null, component: null, submission_id: null },
        why: null,
        action: single.action,
        link: null,
        count: 12,
        first_at: '2026-11-24T10:00:00.000Z',
        last_at: '2026-11-24T10:00:50.000Z',
      },
    });
    expect(toWebhookPayload(single).data.subject).toEqual({
      task_id: '7f3c',
      agent_id: 'claude-2',
      component: null,
      submission_id: null,
    });
  });
});
