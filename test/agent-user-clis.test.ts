import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listEvents } from '../src/store/task-store.ts';
import { noAgentUser } from './support/agent-user.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * Codex and Gemini agents run as AGENT_USER like Claude's: the CLI and what it starts run as
 * nobody, which owns the task's worktree and state and nothing else, and the fix is still
 * committed by the supervisor.
 */
describe.skipIf(noAgentUser !== undefined)(
  `Codex and Gemini agents as AGENT_USER${noAgentUser ? ` (skipped: ${noAgentUser})` : ''}`,
  () => {
    const suite = scriptedSuite();

    it('runs a Codex fix as nobody: its commands cannot read the supervisor’s key, and the fix is committed', async () => {
      const uid = execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim();
      const key = `sk-codex-user-${Date.now()}`;
      const agent: AgentDefinition = {
        id: 'codex',
        cli: 'codex',
        credential: { kind: 'api_key', value: key },
        limits: { models: ['gpt-scripted'], maxConcurrent: 1, windows: [], baseUrl: `${suite.model.url}/v1` },
      };
      const test = await suite.start({
        agents: [agent],
        env: {
          AGENT_DRIVER: 'claude-code',
          CLAUDE_API_RETRIES: '0',
          TASK_MAX_ATTEMPTS: '1',
          AGENT_USER: 'nobody',
        },
      });
      const keyFile = join(test.dataDir, 'secrets.key');
      suite.model.script(key, [
        steps.toolUse([
          {
            name: 'exec_command',
            input: {
              cmd: `id -u; cat ${keyFile}; printf 'export const add = (a, b) => a + b;\\n' > calc.js`,
            },
          },
        ]),
        steps.text('Fixed add().'),
      ]);
      const repo = createSourceRepo({ 'calc.js': 'export const add = (a, b) => a - b;\n' });
      const { task: submitted } = await test.supervisor.tasks.submit(
        { type: 'BUG_FIX', payload: { repository: repo.path, description: 'add subtracts' }, priority: 5 },
        { actor: { name: 'local' } },
      );
      const task = await test.waitForStatus(submitted.id, ['succeeded', 'failed'], 120_000);
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect((task.result as { workspace: { diff: string } }).workspace.diff).toContain(
        '+export const add = (a, b) => a + b;',
      );
      const command = (await listEvents(test.supervisor.database.db, submitted.id, { limit: 1000 })).find(
        (event) => event.type === 'item.completed/command_execution',
      )?.data as { item: { aggregated_output: string } };
      expect(command.item.aggregated_output).toMatch(new RegExp(`^${uid}\\n`));
      expect(command.item.aggregated_output).toContain('Permission denied');
      expect(command.item.aggregated_output).not.toContain(readFileSync(keyFile, 'utf8').trim());
    }, 180_000);

    it('runs a Gemini fix as nobody, and the fix is committed', async () => {
      const key = `gm-user-${Date.now()}`;
      const agent: AgentDefinition = {
        id: 'gemini',
        cli: 'gemini',
        credential: { kind: 'api_key', value: key },
        limits: { models: ['gemini-scripted'], maxConcurrent: 1, windows: [], baseUrl: suite.model.url },
      };
      const test = await suite.start({
        agents: [agent],
        env: { AGENT_DRIVER: 'claude-code', TASK_MAX_ATTEMPTS: '1', AGENT_USER: 'nobody' },
      });
      suite.model.script(key, [
        steps.toolUse([
          {
            name: 'write_file',
            input: { file_path: 'calc.js', content: 'export const add = (a, b) => a + b;\n' },
          },
        ]),
        steps.text('Fixed add().'),
      ]);
      const repo = createSourceRepo({ 'calc.js': 'export const add = (a, b) => a - b;\n' });
      const { task: submitted } = await test.supervisor.tasks.submit(
        { type: 'BUG_FIX', payload: { repository: repo.path, description: 'add subtracts' }, priority: 5 },
        { actor: { name: 'local' } },
      );
      const task = await test.waitForStatus(submitted.id, ['succeeded', 'failed'], 120_000);
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect((task.result as { workspace: { diff: string } }).workspace.diff).toContain(
        '+export const add = (a, b) => a + b;',
      );
    }, 180_000);
  },
);
