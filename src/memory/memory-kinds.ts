/**
 * What a memory entry holds. The first four are written by the supervisor from a finished task;
 * `note` is what an agent (over MCP) or a person (over the API) chose to save.
 */
export const MEMORY_KINDS = ['review', 'issue_summary', 'analysis', 'change', 'note'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];
