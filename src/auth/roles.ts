/**
 * Who may do what. Roles are ordered: each includes everything the ones before it may do.
 * - viewer: read tasks, events, agents and health details
 * - submitter: submit tasks, and cancel or retry the tasks it submitted
 * - operator: cancel or retry any task, pause and resume agents
 * - admin: reset quotas, manage API tokens (and, as they land, credentials, config and audit)
 */
import type { TaskScope } from './task-token.ts';

export const ROLES = ['viewer', 'submitter', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleIncludes(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/** The caller of a request, once authenticated. */
export interface Principal {
  /** Token name (or `local` in no-auth development mode): recorded as the actor and task submitter. */
  name: string;
  role: Role;
  /** The API token used; null in development mode and for task tokens. */
  tokenId: string | null;
  /** A running task's agent (task token): only the memory routes, only its repository. */
  scope?: TaskScope;
}
