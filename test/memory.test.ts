import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedModelServer, startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedClaudeEnv, startTestSupervisor, type TestSupervisor } from './support/harness.ts';

/**
 * Project memory end to end, with the real `claude` binary against the scripted model server: a
 * task's findings reach a later task on the same repository (in its prompt, and through the
 * `supervisor mcp` tools the CLI starts), never a task on another repository, and go stale once a
 * commit changes the file they cite.
 */

const analysis = {
  summary: 'Token handling needs care.',
  findings: [
    {
      severity: 'major',
      category: 'security',
      file: 'auth.py',
      line: 2,
      title: 'Refresh token never expires',
      detail: 'refresh() reuses the old token forever.',
    },
  ],
};
const empty = { summary: 'Nothing to report.', findings: [] };

// biome-ignore lint/suspicious/noExplicitAny: the tests read deep into JSON answers
type Json = Record<string, any>;

/** All the text a model request carried: system prompt, messages and tool results. */
const requestText = (body: Record<string, unknown> | undefined) => JSON.stringify(body ?? {});

describe('project memory with the real Claude Code CLI', () => {
  let model: ScriptedModelServer;
  let test: TestSupervisor;
  const key = `sk-test-memory-${Date.now()}`;
  const repoA = createSourceRepo({
    'auth.py': 'def refresh(token):\n    return token\n',
    'util.py': 'x = 1\n',
  });
  const repoB = createSourceRepo({ 'main.py': 'print(1)\n' });

  beforeAll(async () => {
    model = await startScriptedModelServer();
    test = await startTestSupervisor('pglite', {
      listen: true,
      env: {
        ...scriptedClaudeEnv(model.url, key),
        CLAUDE_API_TIMEOUT_MS: '5000',
        AGENT_IDLE_TIMEOUT_SECONDS: '20',
        TASK_MAX_ATTEMPTS: '1',
        MIRROR_REFRESH_SECONDS: '0',
      },
    });
  });
  afterAll(async () => {
    const leftovers = processesUnder(test.dataDir);
    await test.stop();
    await model.close();
    expect(leftovers, 'agent processes left behind').toEqual([]);
  });

  const api = async (path: string, init: RequestInit = {}): Promise<Json> => {
    const response = await fetch(`${test.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...init.headers },
    });
    const body = await response.text();
    return { http: response.status, ...(body ? JSON.parse(body) : {}) };
  };
  /** Runs one CODE_ANALYSIS task to its end and returns it with the model requests it made. */
  const analyse = async (repository: string, script: steps.Step[]) => {
    model.script(key, script);
    const submitted = await api('/api/v1/tasks', {
      method: 'POST',
      body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository, focus: 'token refresh' } }),
    });
    expect(submitted.http).toBe(201);
    const before = model.requests().length;
    await test.waitForStatus(submitted.id, ['succeeded', 'failed'], 90_000);
    const task = await api(`/api/v1/tasks/${submitted.id}`);
    expect(task.status, JSON.stringify(task.error)).toBe('succeeded');
    return { task, requests: model.requests().slice(before) };
  };

  let findingEntry: Json;
  let firstTaskId: string;

  it('saves a finished analysis with its provenance', async () => {
    const { task } = await analyse(repoA.path, [
      steps.toolUse([{ name: 'StructuredOutput', input: analysis }]),
    ]);
    const listed = await api(`/api/v1/memory?repository=${encodeURIComponent(repoA.path)}`);
    expect(listed.items).toHaveLength(1);
    findingEntry = listed.items[0];
    firstTaskId = task.id;
    expect(findingEntry).toMatchObject({
      repository: repoA.path,
      kind: 'analysis',
      paths: ['auth.py'],
      commit: repoA.head,
      task_id: task.id,
      created_by: 'supervisor',
      stale: false,
    });
    expect(findingEntry.content).toContain('Refresh token never expires');
  });

  it('gives the next task on the repository the finding in its prompt and through the MCP tools', async () => {
    const { task, requests } = await analyse(repoA.path, [
      steps.toolUse([{ name: 'mcp__supervisor__memory_search', input: { query: 'refresh token' } }]),
      steps.toolUse([
        {
          name: 'mcp__supervisor__memory_save',
          input: { title: 'auth.py has no tests', content: 'Nobody tests refresh().', paths: ['auth.py'] },
        },
      ]),
      steps.toolUse([{ name: 'mcp__supervisor__task_history', input: {} }]),
      steps.toolUse([{ name: 'StructuredOutput', input: empty }]),
    ]);
    expect(requests.length).toBeGreaterThanOrEqual(4);
    // In the prompt, as fenced project memory.
    const first = requestText(requests[0]!.body);
    expect(first).toContain('project-memory');
    expect(first).toContain('Refresh token never expires');
    expect(first).toContain('memory_search');
    // The CLI started `supervisor mcp`, which answered the search from the API.
    const searchResult = requestText(requests[1]!.body);
    expect(searchResult).toContain(findingEntry.id);
    expect(searchResult).toContain('refresh() reuses the old token forever.');
    expect(requestText(requests[2]!.body)).toContain('Saved as memory entry');
    expect(requestText(requests[3]!.body)).toContain(`CODE_ANALYSIS ${firstTaskId}: succeeded`);

    const notes = await api(`/api/v1/memory?repository=${encodeURIComponent(repoA.path)}&kind=note`);
    expect(notes.items).toHaveLength(1);
    expect(notes.items[0]).toMatchObject({
      title: 'auth.py has no tests',
      task_id: task.id,
      created_by: `task:${task.id}`,
      commit: repoA.head,
      paths: ['auth.py'],
    });
    const audit = await api(`/api/v1/audit-logs?action=memory.saved&task_id=${task.id}`);
    expect(audit.items).toHaveLength(1);
  });

  it('keeps one repository’s memory from a task on another', async () => {
    const { requests } = await analyse(repoB.path, [
      steps.toolUse([{ name: 'StructuredOutput', input: empty }]),
    ]);
    const prompt = requestText(requests[0]!.body);
    expect(prompt).not.toContain('Refresh token never expires');
    expect(prompt).toContain('nothing relevant is stored yet');
    const listed = await api(`/api/v1/memory?repository=${encodeURIComponent(repoB.path)}&kind=analysis`);
    expect(listed.items).toHaveLength(1); // its own analysis, just saved
    expect(listed.items[0].content).not.toContain('Refresh token');
  });

  it('marks entries stale once a commit changes the file they cite', async () => {
    writeFileSync(join(repoA.path, 'util.py'), 'x = 2\n');
    repoA.git('commit', '--quiet', '-am', 'util only');
    await analyse(repoA.path, [steps.toolUse([{ name: 'StructuredOutput', input: empty }])]);
    expect((await api(`/api/v1/memory/${findingEntry.id}`)).stale).toBe(false);

    writeFileSync(join(repoA.path, 'auth.py'), 'def refresh(token):\n    return rotate(token)\n');
    repoA.git('commit', '--quiet', '-am', 'rotate refresh tokens');
    const { requests } = await analyse(repoA.path, [
      steps.toolUse([{ name: 'StructuredOutput', input: empty }]),
    ]);
    const entry = await api(`/api/v1/memory/${findingEntry.id}`);
    expect(entry.stale).toBe(true);
    expect(entry.stale_reason).toContain('auth.py changed between');
    expect(requestText(requests[0]!.body)).not.toContain('Refresh token never expires');
    // The agent's note cites auth.py too; the entries of the tasks that found nothing cite no file.
    const stale = await api(`/api/v1/memory?repository=${encodeURIComponent(repoA.path)}&stale=true`);
    expect(stale.items.map((item: Json) => item.kind).sort()).toEqual(['analysis', 'note']);
  });
});

describe('memory tools from `supervisor mcp` over stdio (MEMORY_TOOLS=stdio)', () => {
  it('starts the server for the run and answers from the API', async () => {
    const model = await startScriptedModelServer();
    const key = `sk-test-memory-stdio-${Date.now()}`;
    const repo = createSourceRepo({ 'db.py': 'POOL = 10\n' });
    const test = await startTestSupervisor('pglite', {
      listen: true,
      env: {
        ...scriptedClaudeEnv(model.url, key),
        TASK_MAX_ATTEMPTS: '1',
        MEMORY_TOOLS: 'stdio',
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
        steps.toolUse([{ name: 'StructuredOutput', input: empty }]),
      ]);
      const submitted = await fetch(`${test.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository: repo.path } }),
      });
      const { id } = (await submitted.json()) as { id: string };
      const before = model.requests().length;
      const task = await test.waitForStatus(id, ['succeeded', 'failed'], 90_000);
      expect(task.status, task.error ?? '').toBe('succeeded');
      const requests = model.requests().slice(before);
      expect(requestText(requests[1]?.body)).toContain('POOL = 10 for 40 workers.');
      expect(processesUnder(test.dataDir)).toEqual([]);
    } finally {
      await test.stop();
      await model.close();
    }
  });
});
