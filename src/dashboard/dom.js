// Small DOM helpers. Text always goes in as text nodes: data from the API is never parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** h('a', { href: '#/tasks', class: 'x' }, 'text', child) builds an element. */
/** Children as given to `h`: arrays flattened, and null, undefined and false left out. */
const present = (children) =>
  children.flat().filter((child) => child !== null && child !== undefined && child !== false);

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  element.append(...present(children));
  return element;
}

/** `element.replaceChildren` with `h`'s rules: a null child means none, not the text "null". */
export function setChildren(element, ...children) {
  element.replaceChildren(...present(children));
}

/** The same for SVG elements. */
export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attributes);
  element.append(...present(children));
  return element;
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

export const formatUsd = (value) =>
  `$${Number(value ?? 0).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: value < 1 ? 4 : 2 })}`;

export const formatNumber = (value) => Number(value ?? 0).toLocaleString('en-US');

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** "3h 12m", "45s": how long until (or since) a moment. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}

export const badge = (value, kind = 'status') =>
  h('span', { class: `badge ${kind}-${String(value ?? 'none').replace(/[^a-z_]/gi, '')}` }, value ?? '—');

/** A definition list from [term, value] pairs; values may be nodes. */
export const facts = (pairs) =>
  h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value ?? '—'))),
  );

/**
 * A table in a box that scrolls sideways when it is wider than the screen: focusable, so the
 * keyboard can scroll it too, and named for screen readers.
 */
export const scrollRegion = (label, table, className = '') =>
  h(
    'div',
    { class: `table-wrap ${className}`.trim(), tabindex: '0', role: 'region', 'aria-label': label },
    table,
  );
