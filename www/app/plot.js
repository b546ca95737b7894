// plot.js — the loss plot: a pure drawing of a run's history onto a canvas (log scale; total,
// content × α and style × β; a dashed line where each scale begins, an orange one where the run
// was steered, labelled with what changed).

const SERIES = [['total', '#222'], ['content', '#1f77b4'], ['style', '#d62728']];
const NAMES = { content_weight: 'α', style_weight: 'β', tv_weight: 'τ', style_layer_weights: 'layers', lr: 'step', style_blend: 'blend' };

/**
 * Draws `history` (the API's loss records) on `canvas`; `settings` gives the weights of records
 * without their own, `steers` the steering marks, `maxIteration` the x range.
 */
export function drawPlot(canvas, { history = [], settings, steers = [], maxIteration }) {
  const c = canvas, ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.font = '11px system-ui, sans-serif';
  if (history.length < 1 || !settings) return;
  const val = (l, k) => (k === 'content' ? l.content * (l.content_weight ?? settings.content_weight)
    : k === 'style' ? l.style * (l.style_weight ?? settings.style_weight) : l.total);
  const vals = history.flatMap((l) => SERIES.map(([k]) => val(l, k))).filter((v) => v > 0);
  if (!vals.length) return;
  const lo = Math.log10(Math.min(...vals)), hi = Math.log10(Math.max(...vals)) + 1e-9;
  const maxIt = Math.max(1, maxIteration ?? settings.iterations, history.at(-1).iteration);
  const X = (it) => 40 + (c.width - 50) * (it / maxIt);
  const Y = (v) => c.height - 18 - (c.height - 30) * ((Math.log10(v) - lo) / (hi - lo || 1));
  const vline = (x) => { ctx.beginPath(); ctx.moveTo(x, 12); ctx.lineTo(x, c.height - 18); ctx.stroke(); };
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(40, 12, c.width - 50, c.height - 30);
  ctx.fillStyle = '#555';
  ctx.fillText(`1e${hi.toFixed(1)}`, 2, 18);
  ctx.fillText(`1e${lo.toFixed(1)}`, 2, c.height - 18);
  ctx.fillText(`iteration ${history.at(-1).iteration}`, c.width - 110, c.height - 4);
  // Where each scale after the first begins.
  ctx.strokeStyle = '#bbb';
  ctx.setLineDash([3, 3]);
  for (let i = 1; i < history.length; i++) {
    if (history[i].scale !== history[i - 1].scale) vline(X(history[i].iteration - history[i].scaleIteration));
  }
  ctx.setLineDash([]);
  // Where the run was steered.
  ctx.strokeStyle = ctx.fillStyle = '#e67e00';
  for (const m of steers) {
    const x = X(m.iteration);
    vline(x);
    const label = Object.entries(m.changes).map(([k, v]) => (typeof v === 'number' ? `${NAMES[k]} ${Number(v.toPrecision(3))}` : NAMES[k])).join(', ');
    ctx.fillText(label, Math.min(x + 3, c.width - ctx.measureText(label).width - 2), 24);
  }
  SERIES.forEach(([k, color], i) => {
    ctx.strokeStyle = ctx.fillStyle = color;
    ctx.beginPath();
    let first = true;
    for (const l of history) {
      const v = val(l, k);
      if (!(v > 0)) continue;
      if (first) ctx.moveTo(X(l.iteration), Y(v));
      else ctx.lineTo(X(l.iteration), Y(v));
      first = false;
    }
    ctx.stroke();
    for (const l of history) {
      const v = val(l, k);
      if (v > 0) ctx.fillRect(X(l.iteration) - 1.5, Y(v) - 1.5, 3, 3);
    }
    ctx.fillText(k === 'total' ? 'total' : `${k} × weight`, 50 + i * 110, 10);
  });
}
