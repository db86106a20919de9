import type { AgentCli } from '../core/agent-types.ts';
import type { AgentDriver, AgentIdentity, AgentRunReport, AgentRunRequest } from './driver.ts';

/**
 * The real agent CLIs behind one driver: each attempt runs with the driver of its agent's CLI
 * (the agents file's `cli`), and is recorded under that CLI's name.
 */
export class CliDrivers implements AgentDriver {
  readonly name = 'agent-cli';
  readonly usesWorkspace = true;
  readonly #drivers: Record<AgentCli, AgentDriver>;

  constructor(drivers: Record<AgentCli, AgentDriver>) {
    this.#drivers = drivers;
  }

  nameFor(agent: AgentIdentity): string {
    return this.#drivers[agent.cli].name;
  }

  run(request: AgentRunRequest): Promise<AgentRunReport> {
    return this.#drivers[request.agent.cli].run(request);
  }
}
