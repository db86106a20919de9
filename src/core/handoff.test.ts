import { describe, expect, it } from 'vitest';
import { digestSteps, handoffSection, recentSteps } from './handoff.ts';

describe('the handoff digest', () => {
  it('reads what a Claude Code agent and a Codex agent did, in order', () => {
    const steps = digestSteps([
      {
        type: 'assistant',
        data: {
          message: {
            content: [
              { type: 'text', text: 'Reading\n  the file.' },
              { type: 'tool_use', name: 'Read', input: { file_path: 'a.js' } },
            ],
          },
        },
      },
      {
        type: 'assistant',
        data: { error: 'rate_limit', message: { content: [{ type: 'text', text: 'API Error: 429' }] } },
      },
      {
        type: 'item.completed/command_execution',
        data: { item: { type: 'command_execution', command: 'npm test', exit_code: 1 } },
      },
      {
        type: 'item.completed/file_change',
        data: { item: { type: 'file_change', changes: [{ path: 'a.js', kind: 'update' }] } },
      },
      {
        type: 'item.completed/mcp_tool_call',
        data: { item: { type: 'mcp_tool_call', server: 'supervisor', tool: 'remember' } },
      },
      { type: 'item.completed/agent_message', data: { item: { type: 'agent_message', text: 'Done.' } } },
    ]);
    expect(steps).toEqual([
      'said: Reading the file.',
      'used Read {"file_path":"a.js"}',
      'ran npm test (exit 1)',
      'changed files: update a.js',
      'used supervisor.remember',
      'said: Done.',
    ]);
  });

  it('keeps the most recent steps within its size, and says how many it left out', () => {
    const steps = Array.from({ length: 100 }, (_, i) => `step ${i} ${'x'.repeat(90)}`);
    const recent = recentSteps(steps, 1000);
    expect(recent.steps.at(-1)).toBe(steps[99]);
    expect(recent.steps.join('\n').length).toBeLessThanOrEqual(1000);
    expect(recent.omitted).toBe(100 - recent.steps.length);
  });

  it('fences the digest and the carried-over work as data', () => {
    const section = handoffSection(
      {
        attempt: 2,
        agent: 'a',
        cli: 'claude-code',
        outcome: 'quota_exhausted',
        steps: ['said: hi'],
        omitted: 3,
        carriedOver: 'a.js | 2 +-',
      },
      'n0nce',
    );
    expect(section).toContain(
      'Attempt 2 of this task ran on agent a (claude-code) and ended quota_exhausted',
    );
    expect(section).toContain(
      '<untrusted-data kind="earlier-attempt" nonce="n0nce">\n(3 earlier steps left out)\n- said: hi\n</untrusted-data nonce="n0nce">',
    );
    expect(section).toContain(
      '<untrusted-data kind="carried-over" nonce="n0nce">\na.js | 2 +-\n</untrusted-data nonce="n0nce">',
    );
    expect(
      handoffSection({ attempt: 1, agent: 'a', cli: 'codex', outcome: null, steps: [], omitted: 0 }, 'n'),
    ).toContain('It left no change in the working tree.');
  });
});
