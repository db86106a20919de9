import { describe, expect, it } from 'vitest';
import { askedQuestions, checkResult, type ResultFacts, trailingQuestion } from './result-check.ts';
import { TASK_TYPES } from './task-types.ts';

const review = { summary: 'ok', verdict: 'comment', findings: [] };

describe('checkResult', () => {
  const TABLE: Array<[name: string, facts: ResultFacts, outcome: string | undefined]> = [
    ['a review with structured output', { type: 'PR_REVIEW', structuredOutput: review }, undefined],
    ['a review in plain text', { type: 'PR_REVIEW', resultText: 'Looks fine to me.' }, 'no_result'],
    ['an analysis with a null output', { type: 'CODE_ANALYSIS', structuredOutput: null }, 'no_result'],
    ['a summary whose output is a string', { type: 'ISSUE_SUMMARY', structuredOutput: '{}' }, 'no_result'],
    [
      'a summary ending on a question',
      { type: 'ISSUE_SUMMARY', resultText: 'Which release?' },
      'needs_input',
    ],
    ['a fix that changed a file', { type: 'BUG_FIX', filesChanged: 1, resultText: 'Fixed.' }, undefined],
    [
      'a fix that changed nothing',
      { type: 'BUG_FIX', filesChanged: 0, resultText: 'Nothing to do.' },
      'no_change',
    ],
    ['a feature with no text', { type: 'FEATURE', filesChanged: 0 }, 'no_change'],
    [
      'a refactor that asks instead',
      { type: 'REFACTOR', filesChanged: 0, resultText: 'I looked.\n\nShould `util.js` be split too?' },
      'needs_input',
    ],
    [
      'a change that did the work and asks more',
      { type: 'FEATURE', filesChanged: 2, resultText: 'Done. More?' },
      undefined,
    ],
    ['a change whose branch is unknown', { type: 'BUG_FIX', resultText: 'Fixed?' }, undefined],
    [
      'a follow-up to a review answered in words',
      { type: 'PR_REVIEW', resultText: 'Finding 2 is about the retry loop.', followUp: true },
      undefined,
    ],
    [
      'a follow-up to a review answered with a question',
      { type: 'PR_REVIEW', resultText: 'Which finding do you mean?', followUp: true },
      'needs_input',
    ],
    ['a follow-up to an analysis with no text', { type: 'CODE_ANALYSIS', followUp: true }, 'no_result'],
    [
      'a follow-up to a fix that changed nothing on a branch that has nothing',
      { type: 'BUG_FIX', filesChanged: 0, resultText: 'Explained.', followUp: true },
      'no_change',
    ],
  ];

  it.each(TABLE)('%s → %s', (_name, facts, outcome) => {
    expect(checkResult(facts)?.outcome).toBe(outcome);
  });

  it('keeps the question and says what was missing', () => {
    expect(checkResult({ type: 'REFACTOR', filesChanged: 0, resultText: 'Which module first?' })).toEqual({
      outcome: 'needs_input',
      evidence: expect.objectContaining({ signal: 'result', field: 'result' }),
      error: 'the agent stopped to ask: Which module first?',
      question: 'Which module first?',
    });
    expect(checkResult({ type: 'PR_REVIEW', resultText: 'fine' })).toMatchObject({
      evidence: { field: 'structured_output', value: null },
      error: expect.stringContaining('never called the structured-output tool'),
    });
    expect(checkResult({ type: 'BUG_FIX', filesChanged: 0 })).toMatchObject({
      evidence: { signal: 'workspace', field: 'files_changed', value: 0 },
    });
  });

  it('covers every task type', () => {
    for (const type of TASK_TYPES) expect(checkResult({ type, filesChanged: 0 })).toBeDefined();
  });
});

describe('trailingQuestion', () => {
  it.each([
    ['Done.', undefined],
    ['Is this a question? No, it is done.', undefined],
    ['Which branch?', 'Which branch?'],
    ['I read the code.\n\nShould I also update the docs?\n', 'Should I also update the docs?'],
    ['Proceed with **option A?**', 'Proceed with **option A?**'],
    ['He said "really?"', 'He said "really?"'],
    ['', undefined],
  ])('%j → %j', (text, question) => {
    expect(trailingQuestion(text)).toBe(question);
  });
});

describe('askedQuestions', () => {
  it('puts an AskUserQuestion call in plain words, with its options', () => {
    expect(
      askedQuestions({
        questions: [
          { question: 'Which branch?', options: [{ label: 'main' }, { label: 'dev' }] },
          { question: 'Run the tests?' },
        ],
      }),
    ).toBe('Which branch? (main / dev)\nRun the tests?');
    expect(askedQuestions(undefined)).toBe('the agent asked a question without text');
  });
});
