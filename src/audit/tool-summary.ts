import { TOOL_ITEMS } from '../agents/codex/stream-state.ts';

/**
 * What an attempt's agent did with its tools, in counts: the audit trail records this summary,
 * not the calls themselves (their inputs may hold code or data that belongs in the events only).
 * Pure; reads events of the Claude Code and Codex streams: counted by the worker as they stream, or
 * read back from storage when no worker counted them. A Codex tool call is counted by its item type
 * (`command_execution`, `file_change`, `mcp_tool_call`, `web_search`) when it completes; a Gemini
 * one by its tool name.
 */
export interface ToolSummary {
  /** Tool calls by tool name. */
  calls: Record<string, number>;
  /** Calls the permission policy denied, by tool name. */
  denied: Record<string, number>;
}

/** Codex's completed tool items, as stored (src/agents/codex/driver.ts). */
export const CODEX_TOOL_EVENTS: ReadonlySet<string> = new Set(
  [...TOOL_ITEMS].map((type) => `item.completed/${type}`),
);

export function summariseTools(events: Array<{ type: string; data: unknown }>): ToolSummary {
  return countTools({ calls: {}, denied: {} }, events);
}

/** Adds what `events` did with tools to `summary` (in place) and returns it. */
export function countTools(
  summary: ToolSummary,
  events: Array<{ type: string; data?: unknown }>,
): ToolSummary {
  const count = (into: Record<string, number>, name: unknown) => {
    const key = typeof name === 'string' ? name : 'unknown';
    into[key] = (into[key] ?? 0) + 1;
  };
  for (const event of events) {
    const data = event.data as { message?: { content?: unknown }; tool_name?: unknown } | null;
    if (event.type === 'assistant' && Array.isArray(data?.message?.content)) {
      for (const block of data.message.content as Array<{ type?: unknown; name?: unknown }>) {
        if (block?.type === 'tool_use') count(summary.calls, block.name);
      }
    } else if (event.type === 'gemini.tool_use') {
      count(summary.calls, (data as { tool_name?: unknown } | null)?.tool_name);
    } else if (CODEX_TOOL_EVENTS.has(event.type)) {
      count(summary.calls, event.type.slice('item.completed/'.length));
    } else if (event.type === 'system/permission_denied') {
      count(summary.denied, data?.tool_name);
    }
  }
  return summary;
}
