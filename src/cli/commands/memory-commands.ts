import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { MEMORY_KINDS } from '../../memory/memory-kinds.ts';
import type { MemoryEntryView } from '../../memory/memory-views.ts';
import type { ApiClient } from '../api-client.ts';
import { EXIT, ExitError, wholeNumber } from '../exit.ts';
import { listJson, table } from '../format.ts';

type EntryJson = MemoryEntryView;

function entryTable(entries: EntryJson[]): string {
  if (entries.length === 0) return 'no memory entries';
  return table(
    ['ID', 'REPOSITORY', 'KIND', 'TITLE', 'FILES', 'CREATED', 'STATE'],
    entries.map((entry) => [
      entry.id,
      entry.repository ?? '(global)',
      entry.kind,
      entry.title.length > 60 ? `${entry.title.slice(0, 59)}…` : entry.title,
      entry.paths.join(',') || '-',
      entry.created_at.replace('T', ' ').slice(0, 16),
      entry.stale ? 'stale' : 'current',
    ]),
  );
}

function entryDetails(entry: EntryJson): string {
  return [
    `${entry.id}  ${entry.kind}  ${entry.repository ?? '(global)'}`,
    `title:   ${entry.title}`,
    `from:    ${entry.task_id ? `task ${entry.task_id}` : entry.created_by}${entry.commit ? ` at ${entry.commit}` : ''}, ${entry.created_at}`,
    ...(entry.paths.length ? [`files:   ${entry.paths.join(', ')}`] : []),
    ...(entry.stale ? [`stale:   ${entry.stale_reason ?? 'a cited file changed'}`] : []),
    '',
    entry.content,
  ].join('\n');
}

/** `supervisor memory`: search, read, add and delete project-memory entries through the API. */
export function registerMemoryCommands(
  program: Command,
  client: () => ApiClient,
  out: (text: string) => void,
): void {
  const memory = program
    .command('memory')
    .description('Project memory: what earlier tasks found, per repository');

  memory
    .command('search')
    .description('List entries, most relevant first when words are given, else newest first')
    .argument('[words...]', 'words to look for (any of them)')
    .option('-r, --repo <repository>', "one repository's entries")
    .option('--global', 'only global entries')
    .option('--kind <kind>', `one of ${MEMORY_KINDS.join(', ')}`)
    .option('--stale', 'only stale entries')
    .option('--current', 'only current (not stale) entries')
    .option('-n, --limit <n>', 'how many (1-100)', wholeNumber(1, 100), 20)
    .option('--json', 'print as JSON')
    .action(
      async (
        words: string[],
        flags: {
          repo?: string;
          global?: boolean;
          kind?: string;
          stale?: boolean;
          current?: boolean;
          limit: number;
          json?: boolean;
        },
      ) => {
        if (flags.kind && !(MEMORY_KINDS as readonly string[]).includes(flags.kind)) {
          throw new ExitError(
            EXIT.usage,
            `--kind: expected one of ${MEMORY_KINDS.join(', ')}, got ${flags.kind}`,
          );
        }
        if (flags.stale && flags.current)
          throw new ExitError(EXIT.usage, '--stale and --current exclude each other');
        const query = new URLSearchParams({ limit: String(flags.limit) });
        if (words.length) query.set('q', words.join(' '));
        if (flags.repo) query.set('repository', flags.repo);
        if (flags.global) query.set('global', 'true');
        if (flags.kind) query.set('kind', flags.kind);
        if (flags.stale || flags.current) query.set('stale', flags.stale ? 'true' : 'false');
        const { items } = await client().request<{ items: EntryJson[] }>('GET', `/api/v1/memory?${query}`);
        out(flags.json ? listJson(items) : entryTable(items));
      },
    );

  memory
    .command('show')
    .description('One entry in full, with its provenance')
    .argument('<id>', 'entry id (from `supervisor memory search`)')
    .option('--json', 'print as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const entry = await client().request<EntryJson>('GET', `/api/v1/memory/${encodeURIComponent(id)}`);
      out(flags.json ? JSON.stringify(entry, null, 2) : entryDetails(entry));
    });

  memory
    .command('add')
    .description('Save a note for later tasks (without --repo: a global entry, admins only)')
    .option('-r, --repo <repository>', 'the repository it is about')
    .requiredOption('--title <title>', 'one line')
    .option('--content <text>', 'the note')
    .option('--file <path>', 'read the note from a file (- for standard input)')
    .option('--path <file...>', 'files it is about (it goes stale when one changes)')
    .option('--json', 'print as JSON')
    .action(
      async (flags: {
        repo?: string;
        title: string;
        content?: string;
        file?: string;
        path?: string[];
        json?: boolean;
      }) => {
        if ((flags.content === undefined) === (flags.file === undefined)) {
          throw new ExitError(EXIT.usage, 'give the note with exactly one of --content or --file');
        }
        const content = flags.content ?? readFileSync(flags.file === '-' ? 0 : flags.file!, 'utf8');
        const entry = await client().request<EntryJson>('POST', '/api/v1/memory', {
          body: {
            ...(flags.repo ? { repository: flags.repo } : {}),
            title: flags.title,
            content,
            paths: flags.path ?? [],
          },
        });
        out(flags.json ? JSON.stringify(entry, null, 2) : `saved ${entry.id}`);
      },
    );

  memory
    .command('rm')
    .description('Delete an entry (needs an operator token)')
    .argument('<id>', 'entry id')
    .action(async (id: string) => {
      await client().request('DELETE', `/api/v1/memory/${encodeURIComponent(id)}`);
      out(`deleted ${id}`);
    });
}
