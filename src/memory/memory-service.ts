import { appendAudit } from '../audit/audit-log.ts';
import { type Principal, roleIncludes } from '../auth/roles.ts';
import { AppError } from '../core/errors.ts';
import type { Db } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import { type RepositoryPolicy, repositoryRefusal } from '../workspace/repository-policy.ts';
import type { MemoryKind } from './memory-kinds.ts';
import {
  deleteMemory,
  getMemory,
  insertMemory,
  type MemoryEntry,
  type MemoryFilter,
  repositoryHistory,
  searchMemory,
} from './memory-store.ts';
import { normalisePath } from './task-memory.ts';

/**
 * Project memory as the API offers it, to people and to agents (task tokens). The scope rule lives
 * here: a task token sees and writes only its own repository's entries (plus the global ones it
 * may read); only admins write global entries.
 */
export interface MemoryQuery {
  repository?: string;
  global?: boolean;
  kind?: MemoryKind;
  text?: string;
  stale?: boolean;
  limit: number;
  offset: number;
}

export interface NewMemoryNote {
  /** Unset: a global entry (admins), or the task's own repository for a task token. */
  repository?: string;
  kind: MemoryKind;
  title: string;
  content: string;
  paths: string[];
  commit?: string;
}

export class MemoryService {
  readonly #db: Db;
  readonly #now: () => Date;
  readonly #repositoryPolicy: RepositoryPolicy;

  /** `repositoryPolicy`: people may write memory only for repositories tasks may name. */
  constructor(deps: { db: Db; now: () => Date; repositoryPolicy: RepositoryPolicy }) {
    this.#db = deps.db;
    this.#now = deps.now;
    this.#repositoryPolicy = deps.repositoryPolicy;
  }

  /** One page of entries, and whether there are more. */
  async list(query: MemoryQuery, caller: Principal): Promise<{ items: MemoryEntry[]; more: boolean }> {
    const filter: MemoryFilter = {
      ...(query.kind ? { kind: query.kind } : {}),
      ...(query.text ? { text: query.text } : {}),
      ...(query.stale !== undefined ? { stale: query.stale } : {}),
    };
    if (caller.scope) {
      if (query.repository !== undefined && query.repository !== caller.scope.repository) {
        throw outOfScope(caller);
      }
      Object.assign(
        filter,
        query.global ? { globalOnly: true } : { repository: caller.scope.repository, withGlobal: true },
      );
    } else if (query.global) {
      filter.globalOnly = true;
    } else if (query.repository !== undefined) {
      filter.repository = query.repository;
    }
    const rows = await searchMemory(this.#db, filter, { limit: query.limit + 1, offset: query.offset });
    return { items: rows.slice(0, query.limit), more: rows.length > query.limit };
  }

  async get(id: string, caller: Principal): Promise<MemoryEntry> {
    const entry = await getMemory(this.#db, id);
    // Another repository's entry does not exist as far as a task token can tell.
    if (!entry || !visibleTo(entry, caller)) {
      throw new AppError('memory_entry_not_found', `no memory entry with id ${id}`);
    }
    return entry;
  }

  async save(note: NewMemoryNote, caller: Principal): Promise<MemoryEntry> {
    const scope = caller.scope;
    if (scope && note.repository !== undefined && note.repository !== scope.repository)
      throw outOfScope(caller);
    const repository = scope ? scope.repository : (note.repository ?? null);
    const refusal = repository === null ? undefined : repositoryRefusal(repository, this.#repositoryPolicy);
    if (refusal) throw invalid('repository', refusal);
    const paths = note.paths.map((path) => normalisePath(path) ?? path);
    const outside = paths.find((path) => normalisePath(path) === undefined);
    if (outside !== undefined) {
      throw invalid('paths', `${JSON.stringify(outside)} is not a path relative to the repository root`);
    }
    if (repository === null && !roleIncludes(caller.role, 'admin')) {
      throw new AppError(
        'forbidden',
        'an entry without a repository is global (every task sees it) and needs the admin role; give repository',
      );
    }
    const now = this.#now();
    return this.#db.transaction(async (tx) => {
      const entry = await insertMemory(tx, {
        repository,
        kind: note.kind,
        title: note.title,
        content: note.content,
        paths,
        commit: note.commit ?? scope?.commit ?? null,
        taskId: scope?.taskId ?? null,
        createdBy: caller.name,
        createdAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: caller.name,
        action: 'memory.saved',
        ...(scope ? { taskId: scope.taskId } : {}),
        details: { entryId: entry.id, repository, kind: entry.kind, title: entry.title },
      });
      return entry;
    });
  }

  async remove(id: string, caller: Principal): Promise<void> {
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      const entry = await getMemory(tx, id);
      if (!entry || !(await deleteMemory(tx, id))) {
        throw new AppError('memory_entry_not_found', `no memory entry with id ${id}`);
      }
      await appendAudit(tx, {
        at: now,
        actor: caller.name,
        action: 'memory.deleted',
        details: { entryId: id, repository: entry.repository, kind: entry.kind, title: entry.title },
      });
    });
  }

  /** Which tasks ran on a repository (a task token: its own), newest first. */
  async history(repository: string | undefined, limit: number, caller: Principal): Promise<TaskRow[]> {
    if (caller.scope && repository !== undefined && repository !== caller.scope.repository) {
      throw outOfScope(caller);
    }
    const target = caller.scope?.repository ?? repository;
    if (target === undefined) {
      throw new AppError('validation_failed', 'repository is required: the history is per repository');
    }
    return repositoryHistory(this.#db, target, limit);
  }
}

function visibleTo(entry: MemoryEntry, caller: Principal): boolean {
  return !caller.scope || entry.repository === null || entry.repository === caller.scope.repository;
}

function invalid(field: string, message: string): AppError {
  return new AppError('validation_failed', `invalid body: ${field}: ${message}`, [{ field, message }]);
}

function outOfScope(caller: Principal): AppError {
  return new AppError(
    'forbidden',
    `a task token reaches only its own repository's memory (${caller.scope!.repository})`,
  );
}
