import { randomBytes } from 'node:crypto';
import type { ScriptedUsage, Step } from './steps.ts';

/** Encoders for the Anthropic Messages API: the SSE event sequence and the plain JSON message. */

type ReplyStep = Extract<Step, { kind: 'text' | 'tool_use' }>;

export interface SseEvent {
  event: string;
  data: unknown;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

function usageOf(step: ReplyStep): Required<ScriptedUsage> {
  return {
    input_tokens: step.usage?.input_tokens ?? 100,
    output_tokens: step.usage?.output_tokens ?? 20,
    cache_read_input_tokens: step.usage?.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: step.usage?.cache_creation_input_tokens ?? 0,
  };
}

interface Block {
  type: 'text' | 'tool_use';
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

function blocksOf(step: ReplyStep): Block[] {
  if (step.kind === 'text') return [{ type: 'text', text: step.text }];
  const blocks: Block[] = step.text ? [{ type: 'text', text: step.text }] : [];
  for (const tool of step.tools)
    blocks.push({ type: 'tool_use', id: tool.id ?? id('toolu'), name: tool.name, input: tool.input });
  return blocks;
}

function stopReasonOf(step: ReplyStep): string {
  if (step.kind === 'tool_use') return 'tool_use';
  return step.stopReason ?? 'end_turn';
}

/** Splits text into a few chunks so the client sees real incremental deltas. */
function chunks(text: string, size = 40): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts.length ? parts : [''];
}

export function messageStart(model: string, usage: Required<ScriptedUsage>): SseEvent {
  return {
    event: 'message_start',
    data: {
      type: 'message_start',
      message: {
        id: id('msg'),
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    },
  };
}

export function streamEvents(step: ReplyStep, model: string): SseEvent[] {
  const usage = usageOf(step);
  const events: SseEvent[] = [messageStart(model, usage)];
  blocksOf(step).forEach((block, index) => {
    if (block.type === 'text') {
      events.push({
        event: 'content_block_start',
        data: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
      });
      for (const part of chunks(block.text ?? '')) {
        events.push({
          event: 'content_block_delta',
          data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text: part } },
        });
      }
    } else {
      events.push({
        event: 'content_block_start',
        data: {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
        },
      });
      for (const part of chunks(JSON.stringify(block.input ?? {}))) {
        events.push({
          event: 'content_block_delta',
          data: {
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: part },
          },
        });
      }
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: stopReasonOf(step), stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

/** The whole reply as one JSON `Message`, for the CLI's non-streaming fallback request. */
export function jsonMessage(step: ReplyStep, model: string): unknown {
  return {
    id: id('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content: blocksOf(step),
    stop_reason: stopReasonOf(step),
    stop_sequence: null,
    usage: usageOf(step),
  };
}

export function errorBody(type: string, message: string): unknown {
  return { type: 'error', error: { type, message }, request_id: id('req') };
}

export function encodeSse(event: SseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}
