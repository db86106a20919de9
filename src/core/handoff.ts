import { fence } from './prompts.ts';

/**
 * What an agent that cannot resume the task's session is told about the work before it: which
 * agent ran the last attempt and how it ended, a digest of what it did (its messages, the tools it
 * called), and what the task's branch already holds. Sessions do not cross CLIs, so this is how a
 * task moves from one vendor to another. Pure; the digest is built from stored events of either
 * CLI, keeps the most recent steps within a size, and is fenced as data: it repeats text the
 * earlier agent read.
 */

export interface Handoff {
  attempt: number;
  agent: string;
  cli: string;
  outcome: string | null;
  /** What the earlier agent did, oldest first. */
  steps: string[];
  /** Steps left out (the oldest) to keep the digest within its size. */
  omitted: number;
  /** `git diff --stat` of the work the task's branch holds from earlier attempts. */
  carriedOver?: string;
}

/** Largest digest, in characters: enough to go on, small beside the task itself. */
export const MAX_DIGEST_CHARS = 6000;
const MAX_STEP_CHARS = 400;

type StoredEvent = { type: string; data: unknown };
type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const clip = (text: string, max = MAX_STEP_CHARS) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** One line per step the agent took, from Claude Code's, Codex's and Gemini's stored events alike. */
export function digestSteps(events: StoredEvent[]): string[] {
  const steps: string[] = [];
  let wasSaying = false;
  for (const event of events) {
    const data = isObject(event.data) ? event.data : {};
    if (event.type === 'assistant') {
      // The CLI's own message about a failed API call (`error` set) says nothing of the work.
      if (typeof data.error === 'string') continue;
      const content =
        isObject(data.message) && Array.isArray(data.message.content) ? data.message.content : [];
      for (const block of content.filter(isObject)) {
        if (block.type === 'text' && typeof block.text === 'string' && block.text.trim()) {
          steps.push(`said: ${clip(oneLine(block.text))}`);
        } else if (block.type === 'tool_use') {
          steps.push(`used ${String(block.name)} ${clip(JSON.stringify(block.input ?? {}), 200)}`);
        }
      }
      continue;
    }
    // The Gemini CLI streams what it says in pieces: one step per run of them.
    const saying =
      event.type === 'gemini.message' && data.role === 'assistant' && typeof data.content === 'string';
    if (saying && data.delta === true && wasSaying) {
      steps[steps.length - 1] = clip(
        `${steps.at(-1)}${String(data.content).replace(/\s+/g, ' ')}`,
        MAX_STEP_CHARS + 6,
      );
    } else if (saying) {
      steps.push(`said: ${clip(oneLine(String(data.content)))}`);
    }
    wasSaying = saying;
    if (saying) continue;
    if (event.type === 'gemini.tool_use') {
      steps.push(`used ${String(data.tool_name)} ${clip(JSON.stringify(data.parameters ?? {}), 200)}`);
      continue;
    }
    const item = isObject(data.item) ? data.item : undefined;
    if (!item || !event.type.startsWith('item.completed/')) continue;
    if (item.type === 'agent_message' && typeof item.text === 'string') {
      steps.push(`said: ${clip(oneLine(item.text))}`);
    } else if (item.type === 'command_execution') {
      steps.push(`ran ${clip(String(item.command ?? ''), 200)} (exit ${String(item.exit_code ?? '?')})`);
    } else if (item.type === 'file_change' && Array.isArray(item.changes)) {
      const files = item.changes
        .filter(isObject)
        .map((change) => `${String(change.kind)} ${String(change.path)}`);
      steps.push(`changed files: ${clip(files.join(', '), 200)}`);
    } else if (item.type === 'mcp_tool_call') {
      steps.push(`used ${String(item.server)}.${String(item.tool)}`);
    }
  }
  return steps;
}

/** The most recent steps that fit in `maxChars`, and how many older ones were left out. */
export function recentSteps(
  steps: string[],
  maxChars = MAX_DIGEST_CHARS,
): { steps: string[]; omitted: number } {
  const kept: string[] = [];
  let size = 0;
  for (let i = steps.length - 1; i >= 0; i--) {
    size += steps[i]!.length + 1;
    if (size > maxChars) break;
    kept.unshift(steps[i]!);
  }
  return { steps: kept, omitted: steps.length - kept.length };
}

/** The handoff as a prompt section, after the task. */
export function handoffSection(handoff: Handoff, nonce: string): string {
  const ended = handoff.outcome ? ` and ended ${handoff.outcome}` : '';
  const digest = [
    ...(handoff.omitted ? [`(${handoff.omitted} earlier steps left out)`] : []),
    ...handoff.steps.map((step) => `- ${step}`),
  ].join('\n');
  return [
    '## Handing over',
    `Attempt ${handoff.attempt} of this task ran on agent ${handoff.agent} (${handoff.cli})${ended}; its session ` +
      'cannot be resumed here, so you take over. What it did, most recent last:',
    fence('earlier-attempt', digest || '(nothing recorded)', nonce),
    handoff.carriedOver
      ? `Its work so far is already in your working tree (committed on the task's branch):\n${fence('carried-over', handoff.carriedOver, nonce)}\nBuild on it rather than starting again.`
      : 'It left no change in the working tree.',
  ].join('\n');
}
