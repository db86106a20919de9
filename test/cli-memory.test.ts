import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { startTestSupervisor } from './support/harness.ts';

/**
 * The supervisor's memory tools on Codex and Gemini agents, over both transports, with the real
 * CLIs. Each runs the supervisor's MCP server without asking (nobody could answer): Codex offers
 * its tools to the model in the namespace `mcp__<server>`, Gemini under the tools' own names.
 */
const CLIS = {
  codex: {
    agent: (url: string, key: string): AgentDefinition => ({
      id: 'codex',
      cli: 'codex',
      credential: { kind: 'api_key', value: key },
      limits: { models: ['gpt-scripted'], maxConcurrent: 1, windows: [], baseUrl: `${url}/v1` },
    }),
    search: 'mcp__supervisor__memory_search',
  },
  gemini: {
    agent: (url: string, key: string): AgentDefinition => ({
      id: 'gemini',
      cli: 'gemini',
      credential: { kind: 'api_key', value: key },
      limits: { models: ['gemini-scripted'], maxConcurrent: 1, windows: [], baseUrl: url },
    }),
    search: 'memory_search',
  },
} as const;

describe('memory tools on Codex and Gemini agents (real CLIs)', () => {
  it.each([
    ['codex', 'http'],
    ['codex', 'stdio'],
    ['gemini', 'http'],
    ['gemini', 'stdio'],
  ] as const)(
    '%s searches project memory over MCP (MEMORY_TOOLS=%s)',
    async (cli, tools) => {
      const model = await startScriptedModelServer();
      const key = `sk-${cli}-memory-${tools}-${Date.now()}`;
      const repo = createSourceRepo({ 'db.py': 'POOL = 10\n' });
      const test = await startTestSupervisor('pglite', {
        listen: true,
        agents: [CLIS[cli].agent(model.url, key)],
        env: {
          AGENT_DRIVER: 'claude-code',
          CLAUDE_API_RETRIES: '0',
          TASK_MAX_ATTEMPTS: '1',
          MEMORY_TOOLS: tools,
        },
      });
      try {
        const saved = await fetch(`${test.url}/api/v1/memory`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            repository: repo.path,
            title: 'Pool is too small',
            content: 'POOL = 10 for 40 workers.',
          }),
        });
        expect(saved.status).toBe(201);
        model.script(key, [
          steps.toolUse([{ name: CLIS[cli].search, input: { query: 'pool' } }]),
          steps.text(JSON.stringify({ summary: 'x', findings: [] })),
        ]);
        const submitted = await fetch(`${test.url}/api/v1/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository: repo.path } }),
        });
        const { id } = (await submitted.json()) as { id: string };
        const task = await test.waitForStatus(id, ['succeeded', 'failed'], 90_000);
        expect(task.status, task.error ?? '').toBe('succeeded');
        const requests = model.requests(
          (request) => request.credential === key && request.body !== undefined,
        );
        console.log(
          cli,
          JSON.stringify(requests[0]?.body)
            .match(/"name":"[a-z_]+"/g)
            ?.join(' '),
        );
        // The search's answer went back to the model in its next request.
        expect(JSON.stringify(requests[1]!.body)).toContain('POOL = 10 for 40 workers.');
        expect(processesUnder(test.dataDir)).toEqual([]);
      } finally {
        await test.stop();
        await model.close();
      }
    },
    120_000,
  );
});
