import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { startTestSupervisor } from './support/harness.ts';

/**
 * The supervisor's memory tools on a Codex agent, over both transports: Codex offers an MCP
 * server's tools to the model as the namespace `mcp__<server>`, and runs them without asking
 * (a tool that needed approval would be refused under approval policy `never`).
 */
describe('memory tools on a Codex agent (real Codex CLI)', () => {
  it.each(['http', 'stdio'])(
    'searches project memory over MCP (MEMORY_TOOLS=%s)',
    async (tools) => {
      const model = await startScriptedModelServer();
      const key = `sk-codex-memory-${tools}-${Date.now()}`;
      const repo = createSourceRepo({ 'db.py': 'POOL = 10\n' });
      const agent: AgentDefinition = {
        id: 'codex',
        cli: 'codex',
        credential: { kind: 'api_key', value: key },
        limits: { models: ['gpt-scripted'], maxConcurrent: 1, windows: [], baseUrl: `${model.url}/v1` },
      };
      const test = await startTestSupervisor('pglite', {
        listen: true,
        agents: [agent],
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
          steps.toolUse([{ name: 'mcp__supervisor__memory_search', input: { query: 'pool' } }]),
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
        const requests = model.requests((request) => request.credential === key);
        const answer = (requests[1]!.body!.input as Array<{ type: string; output?: unknown }>).find(
          (item) => item.type === 'function_call_output',
        );
        expect(JSON.stringify(answer?.output)).toContain('POOL = 10 for 40 workers.');
        expect(processesUnder(test.dataDir)).toEqual([]);
      } finally {
        await test.stop();
        await model.close();
      }
    },
    120_000,
  );
});
