import type {
  ChangePayload,
  CodeAnalysisPayload,
  IssueSummaryPayload,
  PrReviewPayload,
  TaskPayload,
  TaskType,
} from '../core/task-types.ts';
import type { MemoryKind } from './memory-kinds.ts';

/**
 * What a finished task leaves in its repository's memory: a review's findings, an issue summary,
 * an analysis, or what a change did. Pure: built from the task and its result; the store adds the
 * provenance (task, commit, time).
 */

export interface MemoryDraft {
  kind: MemoryKind;
  title: string;
  content: string;
  paths: string[];
  /**
   * The commit the entry describes, when the task's result names a better one than its checkout:
   * a change describes its branch's head, so it is not stale the moment it is merged.
   */
  commit?: string;
}

/** Entries stay small enough that several fit in a prompt's memory budget. */
export const MAX_MEMORY_CONTENT_CHARS = 8000;
export const MAX_MEMORY_TITLE_CHARS = 200;

interface Finding {
  severity?: unknown;
  category?: unknown;
  file?: unknown;
  line?: unknown;
  title?: unknown;
  detail?: unknown;
}

export interface FinishedTask {
  type: TaskType;
  payload: TaskPayload;
  result: unknown;
  resultText: string | null;
}

export function memoryFromTask(task: FinishedTask): MemoryDraft | undefined {
  const result = (task.result ?? {}) as {
    structured_output?: unknown;
    workspace?: { diff?: unknown; head_commit?: unknown };
  };
  const output = result.structured_output as Record<string, unknown> | undefined;
  switch (task.type) {
    case 'PR_REVIEW': {
      if (!output) return undefined;
      const p = task.payload as PrReviewPayload;
      const findings = findingsOf(output);
      return draft('review', `Review of PR${p.pr_number ? ` #${p.pr_number}` : ''}: ${p.title}`, {
        paths: filesOf(findings),
        lines: [
          `Verdict: ${String(output.verdict ?? 'unknown')}.`,
          String(output.summary ?? ''),
          ...findings.map(findingLine),
        ],
      });
    }
    case 'ISSUE_SUMMARY': {
      if (!output) return undefined;
      const p = task.payload as IssueSummaryPayload;
      return draft('issue_summary', `Issue${p.issue_number ? ` #${p.issue_number}` : ''}: ${p.title}`, {
        paths: [],
        lines: [
          `Category: ${String(output.category ?? 'other')}.`,
          String(output.summary ?? ''),
          ...listOf(output.next_steps).map((step) => `- Next: ${step}`),
          ...listOf(output.open_questions).map((question) => `- Open question: ${question}`),
        ],
      });
    }
    case 'CODE_ANALYSIS': {
      if (!output) return undefined;
      const p = task.payload as CodeAnalysisPayload;
      const findings = findingsOf(output);
      const cited = filesOf(findings);
      return draft('analysis', `Analysis of ${p.paths?.length ? p.paths.join(', ') : p.repository}`, {
        paths: cited.length ? cited : (p.paths ?? []),
        lines: [String(output.summary ?? ''), ...findings.map(findingLine)],
      });
    }
    case 'REFACTOR':
    case 'BUG_FIX':
    case 'FEATURE': {
      const p = task.payload as ChangePayload;
      const diff = typeof result.workspace?.diff === 'string' ? result.workspace.diff : '';
      const changed = changedFiles(diff);
      if (!task.resultText && changed.length === 0) return undefined;
      const head = result.workspace?.head_commit;
      return {
        ...draft('change', `${task.type}: ${firstLine(p.description)}`, {
          paths: changed,
          lines: [
            task.resultText ?? '',
            ...(changed.length ? [`Files changed: ${changed.join(', ')}.`] : []),
          ],
        }),
        ...(typeof head === 'string' ? { commit: head } : {}),
      };
    }
  }
}

function draft(kind: MemoryKind, title: string, body: { paths: string[]; lines: string[] }): MemoryDraft {
  return {
    kind,
    title: clip(title, MAX_MEMORY_TITLE_CHARS),
    content: clip(body.lines.filter((line) => line.trim()).join('\n'), MAX_MEMORY_CONTENT_CHARS),
    paths: body.paths.filter(Boolean),
  };
}

function findingsOf(output: Record<string, unknown>): Finding[] {
  return Array.isArray(output.findings)
    ? output.findings.filter((f): f is Finding => typeof f === 'object' && f !== null)
    : [];
}

function findingLine(f: Finding): string {
  const where =
    typeof f.file === 'string' ? ` ${f.file}${typeof f.line === 'number' ? `:${f.line}` : ''}` : '';
  const tags = [f.severity, f.category].filter((tag) => typeof tag === 'string').join(', ');
  return `- [${tags || 'finding'}]${where} ${String(f.title ?? '')}: ${String(f.detail ?? '')}`;
}

/** The distinct files findings cite, as repository-relative paths. */
function filesOf(findings: Finding[]): string[] {
  const files = findings
    .map((f) => (typeof f.file === 'string' ? normalisePath(f.file) : undefined))
    .filter((file): file is string => Boolean(file));
  return [...new Set(files)];
}

/** Paths a unified diff touches (both sides of a rename). */
export function changedFiles(diff: string): string[] {
  const files = new Set<string>();
  for (const match of diff.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) {
    files.add(match[1]!);
    files.add(match[2]!);
  }
  return [...files];
}

/** A cited file as a repository-relative path; undefined for anything that cannot be one. */
export function normalisePath(file: string): string | undefined {
  const path = file
    .trim()
    .replace(/^\.\//, '')
    .replace(/:\d+(-\d+)?$/, '');
  if (!path || path.startsWith('/') || path.split('/').includes('..') || path.length > 500) return undefined;
  return path;
}

function listOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]!;
}

/** Within `max` characters. (What PostgreSQL cannot store is replaced where memory is written.) */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
