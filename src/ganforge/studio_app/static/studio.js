// ganforge studio: the page. Each run given is a column of cards; each card is a view the server draws.
// A view keeps at most one request in flight: a control moved meanwhile only marks it wanted again, and when
// the answer comes the view asks once more with the controls' latest values. Request ids (rid) per view
// stream let the server drop a request that a newer one replaced before it was drawn (it answers 204).
'use strict';

const client = Math.random().toString(36).slice(2);  // this page: the prefix of its views' streams
const views = [];
window.studio = {views, settled: () => views.every((v) => !v.busy && !v.again)};  // for the page's tests

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child != null && child !== false) node.append(child);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  if (response.status === 204) return null;  // superseded by a newer request of the same view
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

// -- controls ------------------------------------------------------------------------------------------------

// A labelled slider (or number box, select, text box); `value()` is its current value, `onchange` fires on input.
function control(label, input, onchange, shown = () => input.value) {
  const output = el('output', {}, shown());
  input.addEventListener('input', () => { output.textContent = shown(); onchange(); });
  const node = el('label', {class: 'control'}, el('span', {}, label), input, output);
  return {node, input, output, value: () => input.value};
}

function slider(label, min, max, step, value, onchange) {
  return control(label, el('input', {type: 'range', min, max, step, value, 'data-name': label}), onchange);
}

function choice(label, options, onchange) {
  const input = el('select', {'data-name': label}, options.map((o) => el('option', {value: o}, o)));
  return control(label, input, onchange, () => '');
}

function textbox(label, placeholder, onchange) {
  return control(label, el('input', {type: 'text', placeholder, 'data-name': label}), onchange, () => '');
}

// A slider that is off until moved, with a box to turn it off again (truncation, noise): value() is null when off.
function optional(label, min, max, step, value, onchange) {
  const box = el('input', {type: 'checkbox', title: 'on/off'});
  const s = slider(label, min, max, step, value, () => { box.checked = true; sync(); onchange(); });
  const sync = () => s.node.classList.toggle('off', !box.checked);
  box.addEventListener('change', () => { sync(); onchange(); });
  s.node.querySelector('span').prepend(box);
  sync();
  return {...s, box, value: () => (box.checked ? s.input.value : null)};
}

// -- views ---------------------------------------------------------------------------------------------------

class View {
  constructor(run, name, title, params, {upload = null} = {}) {
    Object.assign(this, {run, name, params, upload, rid: 0, busy: false, again: false, token: null});
    this.stream = `${client}-${run.index}-${name}`;
    this.img = el('img', {class: 'picture', alt: title});
    this.note = el('p', {class: 'note'});
    this.error = el('p', {class: 'error'});
    this.command = el('pre', {class: 'command'});
    this.python = el('pre', {class: 'python'});
    this.saved = el('p', {class: 'saved'});
    this.saveButton = el('button', {type: 'button', disabled: true, onclick: () => this.save()}, 'save');
    this.controls = el('div', {class: 'controls'});
    this.node = el('section', {class: `card view-${name}`}, el('h3', {}, title), this.controls, this.img,
                   this.note, this.error, el('div', {class: 'calls'}, this.command, this.python),
                   el('div', {class: 'save'}, this.saveButton, this.saved));
    views.push(this);
  }

  request() {
    if (this.busy) { this.again = true; return; }  // one in flight: the latest values go when it answers
    const params = this.params();
    if (params === null) return;  // nothing to draw yet (no image given)
    this.busy = true;
    this.rid += 1;
    const query = new URLSearchParams({...params, stream: this.stream, rid: this.rid});
    const kind = this.upload ? 'upload' : 'view';
    const options = this.upload ? {method: 'POST', body: this.upload()} : undefined;
    this.node.classList.add('busy');
    api(`/api/run/${this.run.index}/${kind}/${this.name}?${query}`, options)
      .then((data) => { if (data) this.show(data, params); })
      .catch((e) => { this.error.textContent = e.message; })
      .finally(() => {
        this.busy = false;
        this.node.classList.remove('busy');
        if (this.again) { this.again = false; this.request(); }
      });
  }

  show(data, params) {
    this.img.src = data.image;
    this.img.dataset.params = JSON.stringify(params);
    this.note.textContent = data.note || '';
    this.error.textContent = '';
    this.command.textContent = data.command;
    this.python.textContent = data.python;
    this.token = data.token;
    this.saveButton.disabled = false;
    if (this.onshow) this.onshow(data);
  }

  save(token = this.token) {
    this.saved.textContent = 'saving...';
    return api(`/api/run/${this.run.index}/save?token=${token}`, {method: 'POST'})
      .then((data) => { this.saved.textContent = `saved ${data.path}`; return data; })
      .catch((e) => { this.saved.textContent = ''; this.error.textContent = e.message; });
  }
}

function add(view, ...controls) {
  view.controls.append(...controls.filter(Boolean).map((c) => c.node || c));  // a control the run lacks is null
  return view;
}

// -- one run's column -----------------------------------------------------------------------------------------

function samplingCards(run) {
  const redraw = () => { sample.request(); grid.request(); };
  const seed = slider('seed', 0, 999, 1, 0, redraw);
  const psi = run.psi && optional('psi', run.psi.min, run.psi.max, run.psi.step, run.psi.value, redraw);
  const cls = run.classes && choice('class', ['(every class)', ...run.classes], redraw);
  const caption = run.caption && textbox('caption', 'a dark sneaker', redraw);
  const noise = run.noise && optional('noise seed', 0, 999, 1, 0, redraw);
  const common = () => {
    const p = {seed: seed.value()};
    if (psi && psi.value() !== null) p.psi = psi.value();
    if (cls && cls.input.selectedIndex > 0) p.class = cls.value();
    if (caption && caption.value()) p.caption = caption.value();
    return p;
  };
  const sample = add(new View(run, 'sample', 'Sample', () => {
    const p = common();
    if (noise && noise.value() !== null) p.noise = noise.value();
    return p;
  }), seed, psi, cls, caption, noise);
  const grid = new View(run, 'grid', 'Grid', common);
  return [sample, grid];
}

function interpolationCard(run) {
  const redraw = () => view.request();
  const a = slider('seed a', 0, 999, 1, 0, redraw);
  const b = slider('seed b', 0, 999, 1, 1, redraw);
  const t = slider('t', 0, 1, 0.02, 0.5, redraw);
  const spherical = el('input', {type: 'checkbox', onchange: redraw});
  const params = () => ({a: a.value(), b: b.value(), t: t.value(), slerp: spherical.checked ? 1 : 0});
  const view = add(new View(run, 'interpolate', 'Interpolation', params), a, b, t,
                   el('label', {}, spherical, ' along a great circle (slerp)'));
  const gif = el('img', {class: 'picture', alt: 'interpolation GIF'});
  const button = el('button', {type: 'button', onclick: () => {
    button.disabled = true;
    const q = new URLSearchParams({a: a.value(), b: b.value(), slerp: spherical.checked ? 1 : 0});
    api(`/api/run/${run.index}/view/interpolation_gif?${q}`)
      .then((data) => { gif.src = data.image; view.command.textContent = data.command;
                        view.python.textContent = data.python; return view.save(data.token); })
      .catch((e) => { view.error.textContent = e.message; })
      .finally(() => { button.disabled = false; });
  }}, 'save GIF');
  view.node.querySelector('.save').append(button);
  view.node.append(gif);
  return view;
}

function mixCard(run) {
  const redraw = () => view.request();
  const row = slider('seed', 0, 999, 1, 0, redraw);
  const column = slider('styles of', 0, 999, 1, 1, redraw);
  const view = add(new View(run, 'mix', `Style mixing (${run.mix.join(', ')})`,
                            () => ({row: row.value(), column: column.value()})), row, column);
  return view;
}

function directionCard(run) {
  const redraw = () => view.request();
  const seed = slider('seed', 0, 999, 1, 0, redraw);
  const attr = choice('towards', run.directions, redraw);
  const strength = slider('strength', -2, 3, 0.1, 1, redraw);
  const view = add(new View(run, 'attribute', 'Class direction',
                            () => ({seed: seed.value(), attr: attr.value(), strength: strength.value()})),
                   seed, attr, strength);
  // not drawn until asked: the first draw classifies 2,000 samples, a few seconds of the worker's time
  view.controls.append(el('button', {type: 'button', onclick: redraw}, 'draw'));
  return view;
}

// A card that takes a dropped or chosen file and sends its bytes as the request body.
function uploadCard(run, name, title, hint, extra = () => ({}), controls = []) {
  let file = null;
  const view = new View(run, name, title, () => (file ? {name: file.name, ...extra()} : null),
                        {upload: () => file});
  const take = (f) => { if (f) { file = f; view.request(); } };
  const input = el('input', {type: 'file', onchange: () => take(input.files[0])});
  const zone = el('div', {class: 'drop'}, `drop ${hint} here, or `, input);
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer.files[0]);
  });
  return add(view, zone, ...controls);
}

function translateCard(run) {
  const direction = choice('direction', run.translate, () => view.request());
  const view = uploadCard(run, 'translate', 'Translate an image', 'an image',
                          () => ({direction: direction.value()}), run.translate.length > 1 ? [direction] : []);
  return view;
}

function projectCards(run) {
  const steps = slider('steps', 10, 500, 10, 100, () => {});
  const projected = uploadCard(run, 'project', 'Project an image, then edit it', 'an image',
                               () => ({steps: steps.value()}), [steps]);
  projected.note.textContent = 'projection optimises the code: seconds';
  let code = null;
  const redraw = () => edit.request();
  const cls = run.classes && choice('as class', run.classes, redraw);
  const attr = !run.classes && run.directions.length && choice('towards', run.directions, redraw);
  const strength = attr && slider('strength', -2, 3, 0.1, 1, redraw);
  const edit = add(new View(run, 'edit', 'Edit the projected code', () => {
    if (!code || !(cls || attr)) return null;
    return cls ? {code, class: cls.value()} : {code, attr: attr.value(), strength: strength.value()};
  }), cls, attr, strength);
  projected.onshow = (data) => { code = data.code; edit.request(); };
  return cls || attr ? [projected, edit] : [projected];
}

function predictCard(run) {
  const frames = slider('frames', 1, 30, 1, 10, () => view.request());
  const view = uploadCard(run, 'predict', 'Continue a clip', `a GIF of ${run.predict}+ frames`,
                          () => ({frames: frames.value()}), [frames]);
  return view;
}

// -- curves -----------------------------------------------------------------------------------------------------

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function chart(title, series) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 400 120');
  svg.setAttribute('preserveAspectRatio', 'none');
  const points = Object.values(series).flat().filter((p) => p[1] !== null);
  if (!points.length) return null;
  const [x0, x1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  const x = (v) => 30 + 365 * (v - x0) / ((x1 - x0) || 1);
  const y = (v) => 110 - 100 * (v - y0) / ((y1 - y0) || 1);
  const legend = [];
  Object.entries(series).forEach(([name, pts], i) => {
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts.filter((p) => p[1] !== null).map((p) => `${x(p[0])},${y(p[1])}`).join(' '));
    line.setAttribute('stroke', COLOURS[i % COLOURS.length]);
    svg.append(line);
    legend.push(el('span', {}, el('b', {}, '\u2014 '), name, ' '));
    legend[legend.length - 1].firstChild.style.color = COLOURS[i % COLOURS.length];
  });
  for (const [text, tx, ty] of [[y1.toPrecision(3), 2, 12], [y0.toPrecision(3), 2, 110], [`step ${x1}`, 330, 118]]) {
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', tx);
    label.setAttribute('y', ty);
    label.textContent = text;
    svg.append(label);
  }
  return el('div', {}, el('div', {class: 'legend'}, title, ': ', legend), svg);
}

function table(values) {
  const number = (v) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
  const cell = (v) => (typeof v === 'number' ? el('td', {class: 'num'}, number(v))
                                              : el('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)));
  return el('table', {}, Object.entries(values).map(([k, v]) => el('tr', {}, el('td', {}, k), cell(v))));
}

function curvesCard(run) {
  const body = el('div', {});
  const node = el('section', {class: 'card curves'}, el('h3', {}, 'Training curves and metrics'), body);
  const groups = [['losses', (k) => k.startsWith('loss')], ['D outputs', (k) => k.startsWith('d_')],
                  ['evaluation', (k) => k.startsWith('eval_')]];
  const refresh = () => api(`/api/run/${run.index}/curves`).then((data) => {
    const parts = [];
    if (data.step !== null) parts.push(el('p', {class: 'note'}, `metrics.jsonl up to step ${data.step}`));
    for (const [title, wanted] of groups) {
      const chosen = Object.fromEntries(Object.entries(data.series).filter(([k]) => wanted(k)));
      parts.push(chart(title, chosen));
    }
    if (data.eval && data.eval.values) parts.push(el('h3', {}, 'eval.json'), table(data.eval.values));
    if (!parts.filter(Boolean).length) parts.push(el('p', {class: 'note'}, 'no metrics.jsonl or eval.json'));
    body.replaceChildren(...parts.filter(Boolean));
  }).catch((e) => body.replaceChildren(el('p', {class: 'error'}, e.message)));
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 5000);  // the run may still be training
  return node;
}

// -- the page ---------------------------------------------------------------------------------------------------

function column(run) {
  const head = el('section', {class: 'card'}, el('h2', {}, run.name));
  const node = el('section', {class: 'run', id: `run-${run.index}`}, head);
  if (run.error) {
    head.append(el('p', {class: 'error'}, run.error));
    node.append(curvesCard(run));
    return node;
  }
  const reload = el('button', {type: 'button', onclick: () => api(`/api/run/${run.index}/reload`, {method: 'POST'})
    .then((fresh) => node.replaceWith(column(fresh)))  // the run's newest checkpoint, while it trains
    .catch((e) => head.append(el('p', {class: 'error'}, e.message)))}, 'reload weights');
  head.append(el('p', {class: 'sub'}, `${run.family} on ${run.data}, step ${run.step}; ${run.abilities.join(', ')}`),
              reload);
  const cards = [];
  if (run.samples) cards.push(...samplingCards(run));
  else if (run.image) cards.push(new View(run, 'grid', 'Outputs for held-out inputs', () => ({})));
  if (run.samples) cards.push(interpolationCard(run));
  if (run.mix) cards.push(mixCard(run));
  if (run.directions.length) cards.push(directionCard(run));
  if (run.translate) cards.push(translateCard(run));
  if (run.project) cards.push(...projectCards(run));
  if (run.predict) cards.push(predictCard(run));
  if (!run.image) {
    head.append(el('p', {class: 'note'}, 'the studio draws image runs; `ganforge sample` plots points'));
  }
  node.append(...cards.map((c) => c.node), curvesCard(run));
  for (const card of cards) if (card.name !== 'attribute' && !card.upload) card.request();
  return node;
}

api('/api/runs').then((data) => {
  document.getElementById('runs').append(...data.runs.map(column));
  const broken = data.runs.filter((r) => r.error).length;
  document.getElementById('status').textContent =
    `${data.runs.length} run${data.runs.length === 1 ? '' : 's'}` + (broken ? `, ${broken} not readable` : '');
}).catch((e) => { document.getElementById('status').textContent = e.message; });
