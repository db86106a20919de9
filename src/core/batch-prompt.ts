import { buildPrompt, type Prompt, type PromptContext } from './prompts.ts';
import type { TaskPayload, TaskType } from './task-types.ts';

/**
 * The prompt for several tasks of one type run in one agent session (batching). Pure.
 *
 * Each item is the task's own prompt (so every type keeps one wording, and its untrusted text stays
 * fenced with the attempt's nonce), numbered from 1. The answer follows one JSON schema: a list of
 * the type's own result, each tagged with the number of the item it is for, which is how
 * `splitBatchOutput` hands every task its own result.
 */
export function buildBatchPrompt(type: TaskType, payloads: TaskPayload[], context: PromptContext): Prompt {
  // Project memory is about the repository, which all items share: it ends the prompt once.
  const { memory, ...itemContext } = context;
  const items = payloads.map((payload) => buildPrompt(type, payload, itemContext));
  const first = items[0];
  if (!first?.jsonSchema) {
    throw new Error(`a batch needs at least one item of a type with structured output, got ${type}`);
  }
  const text = [
    `You are given ${items.length} independent items of the same kind, numbered 1 to ${items.length}.`,
    'Handle each one on its own, as if it were the only one: never mix facts from one item into another.',
    `Answer with one result per item, each tagged with its item number; all ${items.length} must be there.`,
    '',
    ...items.flatMap((item, i) => [`=== Item ${i + 1} of ${items.length} ===`, item.text, '']),
    ...(memory ? [memory] : []),
  ].join('\n');
  return {
    text,
    appendSystemPrompt: first.appendSystemPrompt,
    jsonSchema: batchSchema(first.jsonSchema, items.length),
  };
}

/** `{results: [{item, ...one item's schema}]}`, with `item` limited to 1..count. */
export function batchSchema(itemSchema: object, count: number): object {
  const schema = itemSchema as { required?: readonly string[]; properties?: object };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['results'],
    properties: {
      results: {
        type: 'array',
        items: {
          ...schema,
          required: ['item', ...(schema.required ?? [])],
          properties: {
            item: {
              type: 'integer',
              minimum: 1,
              maximum: count,
              description: 'Number of the item this result is for',
            },
            ...schema.properties,
          },
        },
      },
    },
  };
}
