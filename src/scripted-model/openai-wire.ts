import { randomBytes } from 'node:crypto';
import type { SseEvent } from './anthropic-wire.ts';
import type { Step } from './steps.ts';

/**
 * Encoders for the OpenAI Responses API as the Codex CLI reads it (shared/protocols/agent-cli.md
 * §3): the SSE event sequence of one streamed response, and the error body. A `text` step becomes
 * an assistant message; each tool of a `tool_use` step a `function_call` item (Codex's shell tool is
 * `exec_command` with `{cmd}`); usage comes from the step, in the Responses API's own fields.
 */

type ReplyStep = Extract<Step, { kind: 'text' | 'tool_use' }>;

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

type Item =
  | {
      type: 'message';
      id: string;
      role: 'assistant';
      status: 'completed';
      content: Array<{ type: 'output_text'; text: string; annotations: [] }>;
    }
  | {
      type: 'function_call';
      id: string;
      call_id: string;
      name: string;
      /** A tool inside a namespace (Codex offers each MCP server's tools as `mcp__<server>`). */
      namespace?: string;
      arguments: string;
      status: 'completed';
    };

function itemsOf(step: ReplyStep): Item[] {
  const message = (text: string): Item => ({
    type: 'message',
    id: id('msg'),
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [] }],
  });
  if (step.kind === 'text') return [message(step.text)];
  return [
    ...(step.text ? [message(step.text)] : []),
    ...step.tools.map(
      (tool): Item => ({
        type: 'function_call',
        id: id('fc'),
        call_id: tool.id ?? id('call'),
        ...namespaced(tool.name),
        arguments: JSON.stringify(tool.input),
        status: 'completed',
      }),
    ),
  ];
}

/** `mcp__<server>__<tool>`, as steps name MCP tools for either CLI, is `<tool>` in namespace `mcp__<server>` here. */
function namespaced(name: string): { name: string; namespace?: string } {
  const match = /^(mcp__[^_]+(?:_[^_]+)*?)__(.+)$/.exec(name);
  return match ? { namespace: match[1]!, name: match[2]! } : { name };
}

function usageOf(step: ReplyStep) {
  const input = step.usage?.input_tokens ?? 100;
  const output = step.usage?.output_tokens ?? 20;
  const cached = step.usage?.cache_read_input_tokens ?? 0;
  return {
    input_tokens: input + cached,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + cached + output,
  };
}

function response(responseId: string, model: string, status: string, extra: Record<string, unknown> = {}) {
  return {
    id: responseId,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model,
    status,
    ...extra,
  };
}

/** The opening event of a response, on its own (a stalled stream sends only this and a delta). */
export function responseCreated(model: string): SseEvent & { responseId: string } {
  const responseId = id('resp');
  return {
    responseId,
    event: 'response.created',
    data: { type: 'response.created', response: response(responseId, model, 'in_progress', { output: [] }) },
  };
}

/** Every event of a streamed response for a `text` or `tool_use` step, in order. */
export function responseEvents(step: ReplyStep, model: string): SseEvent[] {
  const created = responseCreated(model);
  const events: SseEvent[] = [{ event: created.event, data: created.data }];
  const items = itemsOf(step);
  items.forEach((item, outputIndex) => {
    const added =
      item.type === 'message'
        ? { ...item, status: 'in_progress', content: [] }
        : { ...item, arguments: '', status: 'in_progress' };
    events.push({
      event: 'response.output_item.added',
      data: { type: 'response.output_item.added', output_index: outputIndex, item: added },
    });
    if (item.type === 'message') {
      const text = item.content[0]!.text;
      const part = { type: 'output_text', text: '', annotations: [] };
      const at = { item_id: item.id, output_index: outputIndex, content_index: 0 };
      events.push({
        event: 'response.content_part.added',
        data: { type: 'response.content_part.added', ...at, part },
      });
      for (let i = 0; i < Math.max(text.length, 1); i += 40) {
        events.push({
          event: 'response.output_text.delta',
          data: { type: 'response.output_text.delta', ...at, delta: text.slice(i, i + 40) },
        });
      }
      events.push({
        event: 'response.output_text.done',
        data: { type: 'response.output_text.done', ...at, text },
      });
      events.push({
        event: 'response.content_part.done',
        data: { type: 'response.content_part.done', ...at, part: { ...part, text } },
      });
    } else {
      const at = { item_id: item.id, output_index: outputIndex };
      events.push({
        event: 'response.function_call_arguments.delta',
        data: { type: 'response.function_call_arguments.delta', ...at, delta: item.arguments },
      });
      events.push({
        event: 'response.function_call_arguments.done',
        data: { type: 'response.function_call_arguments.done', ...at, arguments: item.arguments },
      });
    }
    events.push({
      event: 'response.output_item.done',
      data: { type: 'response.output_item.done', output_index: outputIndex, item },
    });
  });
  events.push({
    event: 'response.completed',
    data: {
      type: 'response.completed',
      response: response(created.responseId, model, 'completed', { output: items, usage: usageOf(step) }),
    },
  });
  return events;
}

/** An OpenAI API error body: `type` and `code` as the API sends them (e.g. `insufficient_quota`). */
export function openaiErrorBody(type: string, message: string, code: string | null = type) {
  return { error: { message, type, param: null, code } };
}
