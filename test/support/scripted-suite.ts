import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { type ScriptedModelServer, startScriptedModelServer } from '../../src/scripted-model/server.ts';
import { processesUnder } from './agent-processes.ts';
import type { Backend } from './databases.ts';
import { startTestSupervisor, type TestSupervisor } from './harness.ts';

export interface ScriptedSuite {
  /** The describe block's scripted model server, started before its first test. */
  readonly model: ScriptedModelServer;
  /**
   * A supervisor on a fresh database (embedded unless `backend` says otherwise). It is stopped after the test, and the test fails
   * if it left an agent process behind.
   */
  start(options: Parameters<typeof startTestSupervisor>[1] & { backend?: Backend }): Promise<TestSupervisor>;
}

/**
 * For a describe block whose tests run the real `claude` against one scripted model server:
 * registers the hooks that start the server once and clean up after every test.
 */
export function scriptedSuite(): ScriptedSuite {
  let model: ScriptedModelServer | undefined;
  const started: TestSupervisor[] = [];
  beforeAll(async () => {
    model = await startScriptedModelServer();
  });
  afterAll(() => model?.close());
  afterEach(async () => {
    for (const test of started.splice(0)) {
      const leftovers = processesUnder(test.dataDir);
      await test.stop();
      expect(leftovers, 'agent processes left behind').toEqual([]);
    }
  });
  return {
    get model() {
      if (!model) throw new Error('the scripted model server starts before the first test');
      return model;
    },
    async start({ backend = 'pglite', ...options }) {
      const test = await startTestSupervisor(backend, options);
      started.push(test);
      return test;
    },
  };
}
