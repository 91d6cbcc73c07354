/* rnnbook sampler: the book's character-level model, run in the browser with no server and no kernel.
 *
 * The network is the same as rnnbook.models.CharRNN: an embedding, one or more recurrent layers
 * (RNN, LSTM or GRU, with PyTorch's gate order), and a linear output layer, followed by a softmax.
 * The filtering rules are those of rnnbook.sampling.generate: temperature, then top-k, then top-p.
 * The weights come from rnnbook_model.js (made during the book build), which defines
 * window.RNNBOOK_MODEL; it is loaded with a <script> tag, so the page works from file:// too.
 */
(function () {
  "use strict";

  // ---------- the network ----------
  function decode(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  function matvecAdd(W, rows, cols, x, out, offset) {
    // out[r] += sum_c W[r, c] * x[c]   (W stored row-major, as in PyTorch)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const base = r * cols;
      for (let c = 0; c < cols; c++) s += W[base + c] * x[c];
      out[r] += s;
    }
  }

  const sigmoid = (a) => 1 / (1 + Math.exp(-a));

  class CharRNN {
    constructor(spec) {
      this.cell = spec.cell;
      this.V = spec.vocab.length;
      this.E = spec.embed_dim;
      this.H = spec.hidden_size;
      this.gates = { rnn: 1, gru: 3, lstm: 4 }[spec.cell];
      if (!this.gates) throw new Error("unknown cell type " + spec.cell);
      this.embed = decode(spec.tensors.embed);
      this.layers = spec.tensors.layers.map((l) => ({
        W_ih: decode(l.W_ih), W_hh: decode(l.W_hh), b_ih: decode(l.b_ih), b_hh: decode(l.b_hh),
      }));
      this.W_out = decode(spec.tensors.W_out);
      this.b_out = decode(spec.tensors.b_out);
    }

    initialState() {
      return this.layers.map(() => ({ h: new Float64Array(this.H), c: new Float64Array(this.H) }));
    }

    // One step: token id in, logits out; `state` is replaced by the new state.
    step(token, state) {
      const H = this.H, G = this.gates * H;
      let x = this.embed.subarray(token * this.E, (token + 1) * this.E);
      let inSize = this.E;
      for (let k = 0; k < this.layers.length; k++) {
        const L = this.layers[k], s = state[k];
        const gi = Float64Array.from(L.b_ih), gh = Float64Array.from(L.b_hh);
        matvecAdd(L.W_ih, G, inSize, x, gi);
        matvecAdd(L.W_hh, G, H, s.h, gh);
        const h = new Float64Array(H);
        if (this.cell === "rnn") {
          for (let j = 0; j < H; j++) h[j] = Math.tanh(gi[j] + gh[j]);
        } else if (this.cell === "lstm") { // gates i, f, g, o
          const c = new Float64Array(H);
          for (let j = 0; j < H; j++) {
            const i = sigmoid(gi[j] + gh[j]);
            const f = sigmoid(gi[H + j] + gh[H + j]);
            const g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]);
            const o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
            c[j] = f * s.c[j] + i * g;
            h[j] = o * Math.tanh(c[j]);
          }
          s.c = c;
        } else { // gru: gates r, z, n
          for (let j = 0; j < H; j++) {
            const r = sigmoid(gi[j] + gh[j]);
            const z = sigmoid(gi[H + j] + gh[H + j]);
            const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
            h[j] = (1 - z) * n + z * s.h[j];
          }
        }
        s.h = h;
        x = h;
        inSize = H;
      }
      const logits = Float64Array.from(this.b_out);
      matvecAdd(this.W_out, this.V, H, x, logits);
      return logits;
    }
  }

  // ---------- sampling ----------
  function mulberry32(seed) { // a small, fast, seedable PRNG
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function argmax(a) {
    let best = 0;
    for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
    return best;
  }

  // The distribution that sampling draws from, by the rules of rnnbook.sampling.filter_probs:
  // softmax((logits - max) / temperature); keep the top_k most probable (ties: lower id first); of those,
  // renormalised and ranked, keep each whose predecessors hold less than top_p of the mass; renormalise.
  // Temperature 0 is greedy: a one-hot distribution on the largest logit (the first of equal maxima).
  function filteredProbs(logits, temperature, topK, topP) {
    const V = logits.length;
    if (temperature === 0) {
      const onehot = new Float64Array(V);
      onehot[argmax(logits)] = 1;
      return onehot;
    }
    const t = temperature;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[i]);
    const p = new Float64Array(V);
    let sum = 0;
    for (let i = 0; i < V; i++) { p[i] = Math.exp((logits[i] - m) / t); sum += p[i]; }
    for (let i = 0; i < V; i++) p[i] /= sum;
    const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b);
    const keep = new Uint8Array(V).fill(1);
    if (topK && topK < V) for (let r = topK; r < V; r++) keep[order[r]] = 0;
    if (topP && topP < 1) {
      let kept = 0;
      for (let i = 0; i < V; i++) if (keep[i]) kept += p[i];
      let before = 0;
      for (let r = 0; r < V; r++) {
        const i = order[r];
        if (!keep[i]) continue;
        if (before >= topP) keep[i] = 0;
        before += p[i] / kept;
      }
    }
    let total = 0;
    for (let i = 0; i < V; i++) { if (!keep[i]) p[i] = 0; total += p[i]; }
    for (let i = 0; i < V; i++) p[i] /= total;
    return p;
  }

  function draw(probs, rand) {
    const u = rand();
    let cum = 0;
    for (let i = 0; i < probs.length; i++) { cum += probs[i]; if (u < cum) return i; }
    for (let i = probs.length - 1; i >= 0; i--) if (probs[i] > 0) return i;
    return 0;
  }

  // ---------- settings ----------
  function parseSettings(values) {
    const errors = [];
    const num = (name, text) => {
      const s = String(text).trim();
      if (s === "") return null;
      const v = Number(s);
      if (!Number.isFinite(v)) errors.push(`${name} must be a number, got "${s}"`);
      return v;
    };
    const temperature = num("temperature", values.temperature);
    const topK = num("top_k", values.top_k);
    const topP = num("top_p", values.top_p);
    const length = num("length", values.length);
    const seed = num("seed", values.seed);
    if (temperature === null || temperature < 0) errors.push("temperature must be >= 0 (0 means greedy)");
    if (topK !== null && !(Number.isInteger(topK) && topK >= 1)) errors.push("top_k must be an integer >= 1, or empty for no limit");
    if (topP !== null && !(topP > 0 && topP <= 1)) errors.push("top_p must be in (0, 1], or empty for no limit");
    if (length === null || !(Number.isInteger(length) && length >= 0 && length <= 5000)) errors.push("length must be an integer from 0 to 5000");
    if (seed !== null && !Number.isInteger(seed)) errors.push("seed must be an integer, or empty for a random seed");
    return { errors, temperature, topK, topP, length, seed };
  }

  // Split the prompt into known ids and the characters the vocabulary lacks (which are skipped).
  function encodePrompt(prompt, stoi) {
    const ids = [], unknown = [];
    for (const ch of prompt) {
      if (stoi.has(ch)) ids.push(stoi.get(ch));
      else if (!unknown.includes(ch)) unknown.push(ch);
    }
    return { ids, unknown };
  }

  // Generate `length` characters after `prompt`: warm the state up on the prompt, then one step per character.
  function* generate(model, spec, prompt, settings) {
    const stoi = new Map(spec.vocab.map((c, i) => [c, i]));
    const { ids } = encodePrompt(prompt, stoi);
    const warm = ids.length ? ids : [stoi.get(spec.default_prompt)];
    const rand = mulberry32(settings.seed === null ? (Math.random() * 2 ** 32) >>> 0 : settings.seed);
    const state = model.initialState();
    let logits;
    for (const id of warm) logits = model.step(id, state);
    for (let n = 0; n < settings.length; n++) {
      const probs = filteredProbs(logits, settings.temperature, settings.topK, settings.topP);
      const next = settings.temperature === 0 ? argmax(logits) : draw(probs, rand);
      yield { char: spec.vocab[next], probs };
      logits = model.step(next, state);
    }
    yield { char: null, probs: filteredProbs(logits, settings.temperature, settings.topK, settings.topP) };
  }

  // ---------- the panel ----------
  const FIELDS = [
    ["temperature", "temperature", "0.8", "0 = greedy"],
    ["top_k", "top-k", "", "empty = all"],
    ["top_p", "top-p", "0.95", "(0, 1]"],
    ["length", "length", "300", "characters"],
    ["seed", "seed", "42", "empty = random"],
  ];

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children || []) e.append(c);
    return e;
  }

  function showChart(chart, probs, vocab) {
    const top = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 12);
    chart.replaceChildren(...top.map((i) => {
      const label = vocab[i] === "\n" ? "\\n" : vocab[i] === " " ? "␣" : vocab[i];
      return el("div", { class: "rnnbook-bar" }, [
        el("span", { class: "rnnbook-bar-label" }, [label]),
        el("span", { class: "rnnbook-bar-fill", style: `width:${(100 * probs[i]).toFixed(1)}%` }),
        el("span", { class: "rnnbook-bar-value" }, [(100 * probs[i]).toFixed(1) + "%"]),
      ]);
    }));
  }

  function mount(root) {
    const spec = window.RNNBOOK_MODEL;
    const idBase = root.id;
    const prompt = el("textarea", { name: "prompt", rows: "3", id: idBase + "-prompt" }, [root.dataset.prompt || "ROMEO:\n"]);
    const inputs = {};
    const row = el("div", { class: "rnnbook-settings" });
    for (const [name, label, value, hint] of FIELDS) {
      inputs[name] = el("input", { name, type: "text", value, size: "5", id: `${idBase}-${name}` });
      row.append(el("label", { title: hint }, [label + " ", inputs[name]]));
    }
    const button = el("button", { type: "button", class: "rnnbook-generate" }, ["Generate"]);
    const message = el("div", { class: "rnnbook-message", id: idBase + "-message", role: "status" });
    const output = el("pre", { class: "rnnbook-output", id: idBase + "-output", "data-state": "idle" });
    const chart = el("div", { class: "rnnbook-chart", id: idBase + "-chart" });
    root.replaceChildren(
      el("label", { class: "rnnbook-prompt-label", for: idBase + "-prompt" }, ["Prompt"]), prompt,
      row, button, message,
      el("div", { class: "rnnbook-panels" }, [
        el("div", {}, [el("div", { class: "rnnbook-caption" }, ["Generated text"]), output]),
        el("div", {}, [el("div", { class: "rnnbook-caption" }, ["Next-character distribution"]), chart]),
      ]),
    );
    if (!spec) {
      message.textContent = "The model's weights did not load (rnnbook_model.js is missing).";
      button.disabled = true;
      return;
    }
    let model;
    try { model = new CharRNN(spec); } catch (e) { message.textContent = "Could not build the model: " + e.message; button.disabled = true; return; }
    const stoi = new Map(spec.vocab.map((c, i) => [c, i]));
    let run = 0;

    function settings() {
      const values = {};
      for (const name in inputs) values[name] = inputs[name].value;
      return parseSettings(values);
    }

    function preview() { // distribution after the prompt, as the settings change
      const s = settings();
      const { ids, unknown } = encodePrompt(prompt.value, stoi);
      const notes = [];
      if (unknown.length) notes.push("Not in the vocabulary, skipped: " + unknown.map((c) => JSON.stringify(c)).join(" "));
      if (s.errors.length) notes.push(...s.errors);
      message.textContent = notes.join(" · ");
      message.className = "rnnbook-message" + (s.errors.length ? " rnnbook-error" : unknown.length ? " rnnbook-warning" : "");
      if (s.errors.length) return;
      const state = model.initialState();
      let logits;
      for (const id of ids.length ? ids : [stoi.get(spec.default_prompt)]) logits = model.step(id, state);
      showChart(chart, filteredProbs(logits, s.temperature, s.topK, s.topP), spec.vocab);
    }

    function start() {
      const s = settings();
      preview();
      if (s.errors.length) return;
      const me = ++run;
      output.textContent = prompt.value;
      output.dataset.state = "running";
      const gen = generate(model, spec, prompt.value, s);
      const text = [prompt.value];
      function chunk() {
        if (me !== run) return; // a newer run started
        try {
          const t0 = performance.now();
          while (performance.now() - t0 < 30) {
            const { value, done } = gen.next();
            if (done || value.char === null) {
              if (value) showChart(chart, value.probs, spec.vocab);
              output.dataset.state = "done";
              return;
            }
            text.push(value.char);
            showChart(chart, value.probs, spec.vocab);
          }
          output.textContent = text.join("");
          requestAnimationFrame(chunk);
        } catch (e) {
          message.textContent = "Generation failed: " + e.message;
          message.className = "rnnbook-message rnnbook-error";
          output.dataset.state = "error";
        } finally {
          if (output.dataset.state !== "running") output.textContent = text.join("");
        }
      }
      requestAnimationFrame(chunk);
    }

    button.addEventListener("click", start);
    prompt.addEventListener("input", preview);
    for (const name in inputs) inputs[name].addEventListener("input", preview);
    preview();
  }

  function mountAll() {
    document.querySelectorAll(".rnnbook-sampler").forEach((root) => {
      try { mount(root); } catch (e) { root.textContent = "The sampler could not start: " + e.message; }
    });
  }

  window.rnnbookSampler = { CharRNN, filteredProbs, parseSettings, encodePrompt, generate, mulberry32 };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
