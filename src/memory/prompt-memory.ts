import { fence } from '../core/prompts.ts';
import type { MemoryKind } from './memory-kinds.ts';

/**
 * The part of a prompt that hands an agent its repository's memory. Pure: the entries come ranked
 * (most relevant first); this keeps as many as fit in the token budget and renders them as fenced
 * data, because entries were written from agents' output on untrusted input.
 */

export interface PromptMemoryEntry {
  id: string;
  kind: MemoryKind;
  title: string;
  content: string;
  paths: string[];
  commit: string | null;
  taskId: string | null;
}

/** Names of the memory tools agents get over MCP (server `supervisor`). */
export const MEMORY_TOOLS = ['memory_search', 'memory_read', 'memory_save', 'task_history'] as const;

/** A rough token count (about four characters per token for English and code), good for budgets. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** What the section's own words and fence take, on top of its entries. */
const SECTION_TOKENS = 120;
/** Less room than this is not worth the start of one more entry. */
const MIN_CLIPPED_TOKENS = 100;

/**
 * The entries, in rank order, that fit in `budgetTokens` with the section around them. An entry
 * that does not fit is passed over for smaller ones; if none of the rest fits either, the first
 * such entry goes in cut to the room left, so one long entry never crowds out everything.
 */
export function selectWithinBudget<T extends PromptMemoryEntry>(entries: T[], budgetTokens: number): T[] {
  const chosen: T[] = [];
  let left = budgetTokens - SECTION_TOKENS;
  let firstTooLarge: T | undefined;
  for (const entry of entries) {
    const cost = estimateTokens(renderEntry(entry));
    if (cost > left) {
      firstTooLarge ??= entry;
      continue;
    }
    chosen.push(entry);
    left -= cost;
  }
  if (firstTooLarge && left >= MIN_CLIPPED_TOKENS) {
    const room =
      (left - estimateTokens(renderEntry({ ...firstTooLarge, content: '' }))) * 4 - CLIP_NOTE.length;
    if (room > 0)
      chosen.push({ ...firstTooLarge, content: `${firstTooLarge.content.slice(0, room)}${CLIP_NOTE}` });
  }
  return chosen;
}

const CLIP_NOTE = '… (cut; memory_read has the whole entry)';

export function renderEntry(entry: PromptMemoryEntry): string {
  const provenance = [
    entry.taskId ? `task ${entry.taskId}` : 'added by hand',
    entry.commit ? `commit ${entry.commit.slice(0, 12)}` : undefined,
    entry.paths.length ? `files ${entry.paths.join(', ')}` : undefined,
  ].filter(Boolean);
  return `[memory ${entry.id}] ${entry.kind}: ${entry.title} (${provenance.join('; ')})\n${entry.content}`;
}

/** The prompt section, or undefined when there is nothing to say. */
export function memorySection(
  entries: PromptMemoryEntry[],
  options: { nonce: string; toolsAvailable: boolean },
): string | undefined {
  if (entries.length === 0 && !options.toolsAvailable) return undefined;
  const tools = options.toolsAvailable
    ? `You also have the supervisor's memory tools (${MEMORY_TOOLS.join(', ')}): search this repository's memory, read an entry, see which tasks ran here before, and save a note worth keeping for later tasks (cite the files it is about).`
    : '';
  if (entries.length === 0) return `Project memory: nothing relevant is stored yet. ${tools}`;
  return [
    `Project memory: what earlier tasks on this repository found. It may be out of date; check the code before relying on it. ${tools}`.trim(),
    fence('project-memory', entries.map(renderEntry).join('\n\n'), options.nonce),
  ].join('\n');
}
