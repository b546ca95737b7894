// embed-example.js — what a host page writes to embed stylize: import the element, add it, listen.
// Query parameters (for trying things out): ?size=64&iterations=40&strength=30&paintings=2&colors=swap
import './style-transfer.js';

const q = new URLSearchParams(location.search);
const samples = await (await fetch('samples/index.json')).json();
const el = document.createElement('style-transfer');
el.setAttribute('content-src', `samples/${samples.photos[0]}`);
// ?paintings=N blends the first N sample paintings equally.
const n = Math.min(Number(q.get('paintings') ?? 1), samples.styles.length);
el.setAttribute('style-src', samples.styles.slice(0, n).map((f) => `samples/${f}`).join(' '));
if (q.get('colors')) el.setAttribute('colors', q.get('colors'));
el.setAttribute('size', q.get('size') ?? '64');
el.setAttribute('iterations', q.get('iterations') ?? '40');
el.setAttribute('strength', q.get('strength') ?? '30');
const log = document.getElementById('log');
const events = (window.__embedEvents = []);
for (const type of ['progress', 'losses', 'done', 'error']) {
  el.addEventListener(type, (e) => {
    events.push({ type, detail: type === 'error' ? { name: e.detail.name, message: e.detail.message } : e.detail });
    if (type === 'progress') log.textContent = `progress: ${e.detail.iteration} / ${e.detail.iterations}`;
    if (type === 'done') log.textContent = `done: ${e.detail.width}×${e.detail.height}, ${e.detail.iteration} iterations`;
    if (type === 'error') log.textContent = `error: ${e.detail.message}`;
  });
}
el.setAttribute('autostart', '');
document.getElementById('slot').append(el);
