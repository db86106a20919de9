import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.ts';
import { AgentsFileError, loadAgentDefinitions, parseAgentsFile } from './agent-definition.ts';

const config = { CLAUDE_MODEL: 'claude-sonnet-4-5', ANTHROPIC_BASE_URL: undefined };

describe('agent definitions', () => {
  it('builds the simple form from CLAUDE_API_KEYS', () => {
    const agents = loadAgentDefinitions(
      loadConfig({
        env: {
          CLAUDE_API_KEYS: 'sk-1,sk-2',
          CLAUDE_QUOTA_LIMIT_PER_AGENT: '500',
          CLAUDE_QUOTA_RESET_HOURS: '5',
          CLAUDE_CONCURRENCY_PER_AGENT: '1',
          WORKER_CONCURRENCY: '8',
        },
      }),
      {},
    );
    expect(agents.map((agent) => agent.id)).toEqual(['claude-1', 'claude-2']);
    expect(agents[1]).toMatchObject({
      credential: { kind: 'api_key', value: 'sk-2' },
      limits: {
        models: ['claude-sonnet-4-5'],
        // The agent's slots across the cluster, whatever each worker's own concurrency.
        maxConcurrent: 1,
        windows: [{ metric: 'requests', limit: 500, hours: 5, mode: 'fixed' }],
      },
    });
  });

  it('reads the full form from YAML, with secrets from the environment', () => {
    const yaml = `
agents:
  - name: team-key
    credential: { kind: api_key, value: "\${TEAM_KEY}" }
    models: [claude-sonnet-4-5, claude-opus-4-8]
    max_concurrent: 4
    windows:
      - { metric: usd, limit: 50, hours: 24, mode: fixed }
      - { name: tpm, metric: tokens, limit: 400000, hours: 1 }
    daily_budget_usd: 40
  - name: alice-seat
    credential: { kind: subscription, value: "\${ALICE_TOKEN}", owner: alice }
    windows:
      - { name: five_hour, metric: requests, limit: 200, hours: 5 }
      - { name: weekly, metric: requests, limit: 2000, hours: 168 }
  - name: gateway
    credential: { kind: gateway_token, value: gw-token-123 }
    base_url: https://llm-gateway.internal
`;
    const agents = parseAgentsFile(yaml, config, { TEAM_KEY: 'sk-team', ALICE_TOKEN: 'sk-ant-oat-alice' });
    expect(agents.map((agent) => agent.id)).toEqual(['team-key', 'alice-seat', 'gateway']);
    expect(agents[0]!.limits).toEqual({
      models: ['claude-sonnet-4-5', 'claude-opus-4-8'],
      maxConcurrent: 4,
      windows: [
        { name: 'usd/24h', metric: 'usd', limit: 50, hours: 24, mode: 'fixed' },
        { name: 'tpm', metric: 'tokens', limit: 400000, hours: 1, mode: 'rolling' },
      ],
      dailyBudgetUsd: 40,
    });
    expect(agents[1]).toMatchObject({
      owner: 'alice',
      credential: { kind: 'subscription', value: 'sk-ant-oat-alice' },
    });
    expect(agents[2]!.limits.baseUrl).toBe('https://llm-gateway.internal');
  });

  it('reads JSON too', () => {
    const json = JSON.stringify({ agents: [{ name: 'k', credential: { kind: 'api_key', value: 'v' } }] });
    expect(parseAgentsFile(json, config, {})[0]).toMatchObject({
      id: 'k',
      limits: { maxConcurrent: 2, windows: [] },
    });
  });

  it('names every problem', () => {
    const bad = `
agents:
  - name: Bad Name
    credential: { kind: subscription, value: x }
    windows: [{ metric: calls, limit: 1, hours: 1 }]
`;
    expect(() => parseAgentsFile(bad, config, {}, 'agents.yaml')).toThrowError(AgentsFileError);
    try {
      parseAgentsFile(bad, config, {}, 'agents.yaml');
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('agents.yaml is invalid:');
      expect(message).toContain('agents.0.name: expected a lower-case name');
      expect(message).toContain('agents.0.credential.owner');
      expect(message).toContain('agents.0.windows.0.metric: expected one of requests, tokens, usd');
    }
    expect(() =>
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the agents file's own ${VAR} syntax
      parseAgentsFile('agents: [{ name: k, credential: { kind: api_key, value: "${NOPE}" } }]', config, {}),
    ).toThrowError('environment variable NOPE is not set');
    expect(() =>
      parseAgentsFile(
        JSON.stringify({
          agents: [1, 2].map(() => ({ name: 'same', credential: { kind: 'api_key', value: 'v' } })),
        }),
        config,
        {},
      ),
    ).toThrowError('agent name "same" appears twice');
  });

  it('reads codex agents: their models, an API key or gateway token, and their own base URL', () => {
    const yaml = `
agents:
  - name: openai
    cli: codex
    credential: { kind: api_key, value: sk-openai }
    models: [gpt-5.5-codex]
    base_url: https://openai-gateway.internal/v1
  - name: claude
    credential: { kind: api_key, value: sk-ant }
`;
    const agents = parseAgentsFile(
      yaml,
      { ...config, ANTHROPIC_BASE_URL: 'https://anthropic-gw.internal' },
      {},
    );
    expect(agents[0]).toMatchObject({
      cli: 'codex',
      limits: { models: ['gpt-5.5-codex'], baseUrl: 'https://openai-gateway.internal/v1' },
    });
    expect(agents[1]).toMatchObject({
      cli: 'claude-code',
      limits: { baseUrl: 'https://anthropic-gw.internal' },
    });

    const codex = (fields: string) => `agents:\n  - { name: o, cli: codex, ${fields} }\n`;
    // ANTHROPIC_BASE_URL is not where a codex agent goes.
    const direct = parseAgentsFile(
      codex('credential: { kind: api_key, value: k }, models: [m]'),
      { ...config, ANTHROPIC_BASE_URL: 'https://anthropic-gw.internal' },
      {},
    );
    expect(direct[0]!.limits.baseUrl).toBeUndefined();
    expect(() => parseAgentsFile(codex('credential: { kind: api_key, value: k }'), config, {})).toThrowError(
      'agents file agents.0.models: a codex agent lists its models',
    );
    expect(() =>
      parseAgentsFile(
        codex('credential: { kind: subscription, value: k, owner: a }, models: [m]'),
        config,
        {},
      ),
    ).toThrowError(
      'agents.0.credential.kind: a codex agent takes an api_key or a gateway_token, not subscription',
    );
    expect(() =>
      parseAgentsFile(
        'agents: [{ name: g, cli: cursor, credential: { kind: api_key, value: k } }]',
        config,
        {},
      ),
    ).toThrowError('agents.0.cli: expected one of claude-code, codex, gemini');
  });
});
