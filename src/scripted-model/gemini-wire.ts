import type { Step } from './steps.ts';

/**
 * Encoders for the Gemini API as the Gemini CLI reads it (shared/protocols/agent-cli.md §4): the
 * chunks of one `streamGenerateContent?alt=sse` response, the body of a `generateContent` one, the
 * error body, and the answer to a request that asks for JSON by schema (the CLI's auxiliary calls,
 * such as its model router), which is made up from the schema without using a step.
 */

type ReplyStep = Extract<Step, { kind: 'text' | 'tool_use' }>;
type Json = Record<string, unknown>;

function usageOf(step: ReplyStep | undefined) {
  const input = step?.usage?.input_tokens ?? 100;
  const output = step?.usage?.output_tokens ?? 20;
  const cached = step?.usage?.cache_read_input_tokens ?? 0;
  return {
    promptTokenCount: input + cached,
    candidatesTokenCount: output,
    totalTokenCount: input + cached + output,
    ...(cached ? { cachedContentTokenCount: cached } : {}),
  };
}

function partsOf(step: ReplyStep): Json[] {
  if (step.kind === 'text') return [{ text: step.text }];
  return [
    ...(step.text ? [{ text: step.text }] : []),
    ...step.tools.map((tool) => ({ functionCall: { name: tool.name, args: tool.input } })),
  ];
}

const candidate = (parts: Json[], finished: boolean) => ({
  content: { role: 'model', parts },
  ...(finished ? { finishReason: 'STOP' } : {}),
  index: 0,
});

/** The chunks of a streamed answer: text in pieces, then the calls, the finish reason and usage. */
export function geminiChunks(step: ReplyStep, model: string): Json[] {
  const parts = partsOf(step);
  const texts = parts.filter((part) => 'text' in part).map((part) => String(part.text));
  const calls = parts.filter((part) => 'functionCall' in part);
  const chunks: Json[] = [];
  for (const text of texts) {
    for (let i = 0; i < Math.max(text.length, 1); i += 40) {
      chunks.push({ candidates: [candidate([{ text: text.slice(i, i + 40) }], false)], modelVersion: model });
    }
  }
  chunks.push({
    candidates: [candidate(calls.length ? calls : [{ text: '' }], true)],
    usageMetadata: usageOf(step),
    modelVersion: model,
  });
  return chunks;
}

export function encodeGeminiChunk(chunk: Json): string {
  return `data: ${JSON.stringify(chunk)}\r\n\r\n`;
}

/** A whole (not streamed) answer. */
export function geminiResponse(step: ReplyStep, model: string): Json {
  return { candidates: [candidate(partsOf(step), true)], usageMetadata: usageOf(step), modelVersion: model };
}

/** A Google API error body: `status` is the canonical code (`RESOURCE_EXHAUSTED`, `UNAVAILABLE`…). */
export function geminiErrorBody(code: number, status: string, message: string, details?: unknown[]) {
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}

/** Whether a request asks for JSON by schema: answered from the schema, without a step. */
export function asksForJson(body: Json): boolean {
  const config = body.generationConfig as Json | undefined;
  return config?.responseMimeType === 'application/json';
}

/** A value that fits the request's schema: objects get their fields, strings "scripted", numbers 10. */
export function jsonAnswer(body: Json, model: string): Json {
  const config = (body.generationConfig ?? {}) as Json;
  const value = fromSchema((config.responseJsonSchema ?? config.responseSchema ?? {}) as Json);
  return geminiResponse({ kind: 'text', text: JSON.stringify(value) }, model);
}

function fromSchema(schema: Json): unknown {
  const type = String(schema.type ?? 'object').toLowerCase();
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if (type === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, Json>;
    return Object.fromEntries(Object.entries(properties).map(([name, field]) => [name, fromSchema(field)]));
  }
  if (type === 'array') return [];
  if (type === 'integer' || type === 'number') return 10;
  if (type === 'boolean') return false;
  return 'scripted';
}
