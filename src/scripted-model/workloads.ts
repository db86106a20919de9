import { reply, type Step, toolUse } from './steps.ts';

/**
 * Scripted workloads whose answers depend on the prompt, shared by the integration tests and the
 * benchmarks so both measure the same thing.
 */

/** What the scripted summariser says about an issue with this title (tests check for it). */
export const scriptedIssueSummary = (title: string) => ({
  summary: `Scripted summary of “${title}”.`,
  category: 'bug' as const,
  next_steps: [`Reproduce “${title}”`, 'Write a failing test'],
});

/** Roughly four characters a token, as for English text and JSON. */
const tokensOf = (text: string) => Math.ceil(text.length / 4);

/**
 * Answers ISSUE_SUMMARY prompts, single or batched, with StructuredOutput: one summary per issue
 * title found in the prompt, tagged with its item number when the prompt lists items. Input
 * tokens follow the size of the whole request (system prompt, tool definitions, messages) and
 * output tokens the size of the answer, so a benchmark sees what batching really saves.
 */
export function issueSummaries(repeat = 1): Step {
  return reply(
    (body) => {
      const prompt = userText(body);
      const titles = [
        ...prompt.matchAll(/<untrusted-data kind="issue-title" nonce="[^"]*">\n([^\n]*)\n/g),
      ].map((match) => match[1]!);
      const batched = /^=== Item 1 of \d+ ===$/m.test(prompt);
      const input = batched
        ? { results: titles.map((title, i) => ({ item: i + 1, ...scriptedIssueSummary(title) })) }
        : scriptedIssueSummary(titles[0] ?? 'an issue without a title');
      return toolUse([{ name: 'StructuredOutput', input }], {
        usage: {
          input_tokens: tokensOf(JSON.stringify(body)),
          output_tokens: tokensOf(JSON.stringify(input)),
        },
      });
    },
    { repeat },
  );
}

/** All text the user messages of a request carry (the prompt, and whatever the CLI adds). */
function userText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<Record<string, unknown>>) : [];
  return messages
    .filter((message) => message.role === 'user')
    .flatMap((message) =>
      typeof message.content === 'string'
        ? [message.content]
        : Array.isArray(message.content)
          ? message.content.map((block) => String((block as { text?: unknown }).text ?? ''))
          : [],
    )
    .join('\n');
}
