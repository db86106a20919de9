/**
 * The MCP servers an agent is given (the supervisor's memory tools), in the `mcpServers` shape the
 * runner builds (src/memory/run-memory.ts); each CLI's command writes them in its own config.
 */
export interface McpServer {
  type?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
}

export function mcpServersOf(config: object): Record<string, McpServer> {
  return (config as { mcpServers?: Record<string, McpServer> }).mcpServers ?? {};
}
