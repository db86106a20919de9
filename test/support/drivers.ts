import type { AgentDriver, AgentRunReport, AgentRunRequest } from '../../src/agents/driver.ts';
import type { Outcome } from '../../src/core/outcome.ts';
import { ZERO_USAGE } from '../../src/core/outcome.ts';

/**
 * A test driver that plays a script of outcomes, one per attempt (the last repeats), and records
 * which tasks it ran in which order. With `holdUntilAborted`, attempts run until stopped, which
 * lets tests cancel or shut down mid-run. With `together: n`, each attempt waits until n attempts
 * have started and then all of them end at once, for races between endings.
 */
export class ScriptedDriver implements AgentDriver {
  readonly name = 'scripted';
  readonly usesWorkspace = false;
  readonly runs: Array<{ taskId: string; attempt: number }> = [];
  readonly #outcomes: Outcome[];
  readonly #holdUntilAborted: boolean;
  readonly #started = new Set<(taskId: string) => void>();
  readonly #together: number;
  readonly #gate = Promise.withResolvers<void>();

  constructor(options: { outcomes?: Outcome[]; holdUntilAborted?: boolean; together?: number } = {}) {
    this.#outcomes = options.outcomes ?? ['succeeded'];
    this.#holdUntilAborted = options.holdUntilAborted ?? false;
    this.#together = options.together ?? 1;
  }

  /** Resolves when an attempt of `taskId` has started running. */
  started(taskId: string): Promise<void> {
    if (this.runs.some((run) => run.taskId === taskId)) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (id: string) => {
        if (id === taskId) {
          this.#started.delete(listener);
          resolve();
        }
      };
      this.#started.add(listener);
    });
  }

  async run(request: AgentRunRequest): Promise<AgentRunReport> {
    this.runs.push({ taskId: request.taskId, attempt: request.attemptNumber });
    for (const listener of this.#started) listener(request.taskId);
    await request.emit([{ type: 'scripted.started', data: { attempt: request.attemptNumber } }]);
    if (this.#holdUntilAborted) {
      await new Promise<void>((resolve) => {
        if (request.signal.aborted) resolve();
        request.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return {
        outcome: 'cancelled',
        evidence: { source: 'supervisor', signal: 'abort' },
        usage: ZERO_USAGE,
        costUsd: 0,
      };
    }
    if (this.runs.length >= this.#together) this.#gate.resolve();
    await this.#gate.promise;
    const index = Math.min(
      this.runs.filter((run) => run.taskId === request.taskId).length - 1,
      this.#outcomes.length - 1,
    );
    const outcome = this.#outcomes[index]!;
    return {
      outcome,
      evidence: { source: 'process', signal: 'scripted', value: outcome },
      ...(outcome === 'succeeded'
        ? { resultText: `done: ${request.taskId}` }
        : { error: `scripted ${outcome}` }),
      usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0.001,
    };
  }
}
