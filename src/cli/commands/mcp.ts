import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { apiBackend } from '../../mcp/api-backend.ts';
import { createMemoryServer } from '../../mcp/memory-server.ts';
import { ApiClient } from '../api-client.ts';
import { EXIT, ExitError } from '../exit.ts';

/**
 * `supervisor mcp`: the project-memory MCP server on stdio, for any MCP client with an API token
 * (and for agent runs with MEMORY_TOOLS=stdio, which start it once per run).
 * Configured only by its environment (SUPERVISOR_URL, SUPERVISOR_TOKEN), never by a `.env` file:
 * it runs in the agent's checkout, whose files the supervisor does not trust.
 */
export async function mcp(env: NodeJS.ProcessEnv): Promise<void> {
  const url = env.SUPERVISOR_URL;
  const token = env.SUPERVISOR_TOKEN;
  if (!url || !token) {
    throw new ExitError(
      EXIT.usage,
      'supervisor mcp needs SUPERVISOR_URL and SUPERVISOR_TOKEN in its environment; the supervisor sets both when it starts an agent',
    );
  }
  const server = createMemoryServer(apiBackend(new ApiClient(url, token)));
  await server.connect(new StdioServerTransport());
  // Serves until the agent closes the connection or its end of stdin.
  await new Promise<void>((resolve) => {
    server.server.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  await server.close();
}
