import type { Usage } from './quota.ts';

/**
 * What a task is expected to use, for admission: the average of recent finished attempts of the
 * same type in the same repository, else of the same type anywhere, else the configured default.
 * Pure; the store supplies the averages.
 */
export interface HistoryAverage {
  samples: number;
  usage: Usage;
}

/** Fewer finished attempts than this are noise, not history. */
export const MIN_SAMPLES = 3;

export function estimateUsage(
  history: { sameRepository?: HistoryAverage; sameType?: HistoryAverage },
  fallback: Usage,
): { usage: Usage; basis: 'repository' | 'type' | 'default' } {
  if (history.sameRepository && history.sameRepository.samples >= MIN_SAMPLES) {
    return { usage: history.sameRepository.usage, basis: 'repository' };
  }
  if (history.sameType && history.sameType.samples >= MIN_SAMPLES)
    return { usage: history.sameType.usage, basis: 'type' };
  return { usage: fallback, basis: 'default' };
}
