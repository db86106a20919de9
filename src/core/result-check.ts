import type { Evidence, Outcome } from './outcome.ts';
import { isMutatingTaskType, type TaskType } from './task-types.ts';

/**
 * Whether a run the agent CLI calls a success produced what its task type asks for. Pure.
 *
 * The CLI ends `is_error: false` whenever the model stopped on its own: a review that answered in
 * plain text instead of calling the structured-output tool, a bug fix that changed nothing, a run
 * that ended on a question. None of those is a success; each gets its own outcome, decided from
 * the result and the workspace:
 *
 * | task types | evidence | outcome |
 * |---|---|---|
 * | read-only (review, summary, analysis) | a structured output object | `succeeded` |
 * | read-only | none, and the final text ends with a question | `needs_input` |
 * | read-only | none | `no_result` |
 * | mutating (refactor, bug fix, feature) | files changed on the branch against its base | `succeeded` |
 * | mutating | nothing changed, and the final text ends with a question | `needs_input` |
 * | mutating | nothing changed | `no_change` |
 * | read-only, a follow-up after a success | a final text that is not a question | `succeeded` |
 *
 * A follow-up to a succeeded task ("explain finding 2") is answered in words, so a read-only one
 * needs no structured output; a mutating one is judged by its branch as before.
 */

export interface ResultFacts {
  type: TaskType;
  /** The structured output the run ended with, if any. */
  structuredOutput?: unknown;
  /** The agent's final text. */
  resultText?: string;
  /** For a mutating task: files changed on its branch against the base (undefined: not known). */
  filesChanged?: number;
  /** The run answers a follow-up to a succeeded task. */
  followUp?: boolean;
}

export interface ResultShortfall {
  outcome: Extract<Outcome, 'no_result' | 'no_change' | 'needs_input'>;
  evidence: Evidence;
  error: string;
  question?: string;
}

/** The longest question kept from an agent's text. */
const MAX_QUESTION_CHARS = 2000;

/** Undefined when the run delivered what its type asks for; otherwise why not. */
export function checkResult(facts: ResultFacts): ResultShortfall | undefined {
  if (isMutatingTaskType(facts.type)) {
    if (facts.filesChanged === undefined || facts.filesChanged > 0) return undefined;
    return shortfall(facts, 'no_change', {
      evidence: { source: 'supervisor', signal: 'workspace', field: 'files_changed', value: 0 },
      error: 'the agent changed no file; its final text is kept in the result',
    });
  }
  if (isObject(facts.structuredOutput)) return undefined;
  if (facts.followUp && facts.resultText?.trim() && !trailingQuestion(facts.resultText)) return undefined;
  return shortfall(facts, 'no_result', {
    evidence: { source: 'event', signal: 'result', field: 'structured_output', value: null },
    error:
      'the agent answered in plain text and never called the structured-output tool; its text is kept in the result',
  });
}

function shortfall(
  facts: ResultFacts,
  outcome: 'no_result' | 'no_change',
  otherwise: Pick<ResultShortfall, 'evidence' | 'error'>,
): ResultShortfall {
  const question = trailingQuestion(facts.resultText ?? '');
  if (!question) return { outcome, ...otherwise };
  return {
    outcome: 'needs_input',
    evidence: {
      source: 'event',
      signal: 'result',
      field: 'result',
      detail: 'the final text ends with a question',
    },
    error: `the agent stopped to ask: ${question}`,
    question,
  };
}

/**
 * The question a text ends with: its last paragraph, when that ends with a question mark (a
 * closing quote, bracket or markdown emphasis may follow). Undefined otherwise.
 */
export function trailingQuestion(text: string): string | undefined {
  const paragraphs = text.trim().split(/\n\s*\n/);
  const last = paragraphs.at(-1)?.trim() ?? '';
  if (!/\?[\s"'’”)*_`]*$/.test(last)) return undefined;
  return last.slice(-MAX_QUESTION_CHARS);
}

/** The questions of an `AskUserQuestion` tool call, in plain words with their options. */
export function askedQuestions(input: unknown): string {
  const questions = isObject(input) && Array.isArray(input.questions) ? input.questions : [];
  const lines = questions.filter(isObject).map((q) => {
    const options = Array.isArray(q.options)
      ? q.options
          .filter(isObject)
          .map((option) => String(option.label ?? ''))
          .filter(Boolean)
      : [];
    return `${String(q.question ?? '').trim()}${options.length ? ` (${options.join(' / ')})` : ''}`;
  });
  return (lines.filter(Boolean).join('\n') || 'the agent asked a question without text').slice(
    0,
    MAX_QUESTION_CHARS,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
