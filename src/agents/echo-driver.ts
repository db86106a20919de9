import { setTimeout as sleep } from 'node:timers/promises';
import { ZERO_USAGE } from '../core/outcome.ts';
import type { AgentDriver, AgentRunReport, AgentRunRequest } from './driver.ts';

/** A progress event this often, so a long echo shows a live stream like a real agent's. */
const PROGRESS_MS = 250;

/**
 * A stand-in agent that runs no model: it waits `delayMs`, then answers with the task's own
 * payload. It exists to show the pipeline end to end without credentials and is never chosen
 * unless AGENT_DRIVER=echo says so. Its results say plainly that they are echoes.
 */
export class EchoDriver implements AgentDriver {
  readonly name = 'echo';
  readonly usesWorkspace = false;
  readonly #delayMs: number;

  constructor(options: { delayMs: number }) {
    this.#delayMs = options.delayMs;
  }

  async run(request: AgentRunRequest): Promise<AgentRunReport> {
    await request.emit([
      { type: 'echo.started', data: { type: request.type, attempt: request.attemptNumber } },
    ]);
    const started = Date.now();
    const progress = setInterval(() => {
      void request.emit([{ type: 'echo.progress', data: { elapsed_ms: Date.now() - started } }]);
    }, PROGRESS_MS);
    try {
      await sleep(this.#delayMs, undefined, { signal: request.signal });
    } catch {
      return {
        outcome: 'cancelled',
        evidence: {
          source: 'supervisor',
          signal: 'abort',
          detail: String(request.signal.reason ?? 'aborted'),
        },
        usage: ZERO_USAGE,
        costUsd: 0,
      };
    } finally {
      clearInterval(progress);
    }
    const resultText = `echo driver: received a ${request.type} task (no model was run)`;
    await request.emit([{ type: 'echo.result', data: { text: resultText } }]);
    return {
      outcome: 'succeeded',
      evidence: { source: 'process', signal: 'echo', detail: 'the echo driver always succeeds' },
      resultText,
      result: { echo: request.payload },
      usage: ZERO_USAGE,
      costUsd: 0,
    };
  }
}
