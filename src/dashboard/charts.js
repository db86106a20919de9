// Charts as inline SVG: stacked bars per time bucket, with a legend and the numbers as a table.
import { h, s } from './dom.js';

const WIDTH = 640;
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 28, left: 48 };

/**
 * buckets: [{ label, values: { [seriesKey]: number } }]; series: [{ key, label, color }].
 * Returns a <figure> with the chart, its legend and a data table for screen readers.
 */
export function stackedBars({ title, description, buckets, series, format = String, minTop = 0 }) {
  const totals = buckets.map((bucket) => series.reduce((sum, { key }) => sum + (bucket.values[key] ?? 0), 0));
  const max = Math.max(0, ...totals);
  const top = niceCeiling(Math.max(max, minTop));
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = innerWidth / Math.max(buckets.length, 1);
  const barWidth = Math.max(2, step * 0.7);
  const y = (value) => PAD.top + innerHeight - (top ? (value / top) * innerHeight : 0);

  const grid = [0, 0.5, 1].map((fraction) => {
    const value = top * fraction;
    return s(
      'g',
      { class: 'grid' },
      s('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      s('text', { x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, format(value)),
    );
  });
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  const bars = buckets.map((bucket, index) => {
    const x = PAD.left + index * step + (step - barWidth) / 2;
    let base = 0;
    const parts = series.map(({ key, label, color }) => {
      const value = bucket.values[key] ?? 0;
      if (!value) return null;
      const rect = s(
        'rect',
        {
          x,
          y: y(base + value),
          width: barWidth,
          height: Math.max(0, y(base) - y(base + value)),
          fill: color,
        },
        s('title', {}, `${bucket.label}: ${label} ${format(value)}`),
      );
      base += value;
      return rect;
    });
    const tick =
      index % labelEvery === 0
        ? s(
            'text',
            { x: x + barWidth / 2, y: HEIGHT - 8, 'text-anchor': 'middle', class: 'tick' },
            bucket.label,
          )
        : null;
    return s('g', {}, parts, tick);
  });
  const titleId = `chart-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return h(
    'figure',
    { class: 'chart card' },
    h(
      'figcaption',
      { id: titleId },
      h('strong', {}, title),
      h('span', { class: 'muted' }, ` — ${description}`),
    ),
    s(
      'svg',
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: 'img',
        'aria-labelledby': titleId,
        preserveAspectRatio: 'none',
      },
      grid,
      s('line', { class: 'axis', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0) }),
      bars,
    ),
    h(
      'ul',
      { class: 'legend' },
      series.map(({ label, color }) => h('li', {}, swatch(color), label)),
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Numbers'),
      h(
        'table',
        { class: 'compact' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Hour'),
            series.map(({ label }) => h('th', { scope: 'col' }, label)),
          ),
        ),
        h(
          'tbody',
          {},
          buckets
            .filter((_, index) => totals[index] > 0)
            .map((bucket) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, bucket.label),
                series.map(({ key }) => h('td', {}, format(bucket.values[key] ?? 0))),
              ),
            ),
        ),
      ),
    ),
  );
}

function swatch(color) {
  const element = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  element.style.background = color;
  return element;
}

function niceCeiling(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (factor * magnitude >= value) return factor * magnitude;
  }
  return 10 * magnitude;
}
