import { describe, expect, it } from 'vitest';
import { agentTable } from './agent-commands.ts';

describe('supervisor agents', () => {
  it('shows each agent’s CLI beside its credential, state, runs, quota and cooldowns', () => {
    const table = agentTable([
      {
        id: 'team-key',
        cli: 'claude-code',
        credential_class: 'api_key',
        owner: null,
        models: ['claude-sonnet-4-5'],
        state: 'active',
        state_reason: null,
        running: 1,
        max_concurrent: 2,
        available: true,
        windows: [],
        cooldowns: [],
      },
      {
        id: 'openai',
        cli: 'codex',
        credential_class: 'api_key',
        owner: null,
        models: ['gpt-5.5-codex'],
        state: 'active',
        state_reason: null,
        running: 0,
        max_concurrent: 2,
        available: false,
        windows: [],
        cooldowns: [{ model: '*', until: '2026-12-06T18:00:00.000Z', reason: 'quota_exhausted' }],
      },
    ]);
    const [header, claude, codex] = table.split('\n');
    expect(header).toMatch(/^AGENT\s+CLI\s+CLASS\s+STATE\s+RUNS\s+QUOTA\s+COOLDOWN/);
    expect(claude).toMatch(/^team-key\s+claude-code\s+api_key\s+available\s+1\/2/);
    expect(codex).toMatch(
      /^openai\s+codex\s+api_key\s+active\s+0\/2\s+-\s+quota_exhausted until 2026-12-06 18:00/,
    );
  });
});
