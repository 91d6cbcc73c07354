/* rnnbook sampler: the book's character-level model, run in the browser with no server and no kernel.
 *
 * The network is the same as rnnbook.models.CharRNN: an embedding, one or more recurrent layers
 * (RNN, LSTM or GRU, with PyTorch's gate order), and a linear output layer, followed by a softmax.
 * The filtering rules are those of rnnbook.sampling.generate: temperature, then top-k, then top-p.
 * The weights come from rnnbook_model.js (made during the book build), which defines
 * window.RNNBOOK_MODEL; it is loaded with a <script> tag, so the page works from file:// too.
 *
 * Besides sampling, the panel shows what the network computes on its text: one hidden unit's activation
 * per character, the probability the model gave each character, and, for one position, how strongly the
 * prediction there depends on each earlier character (the gradient norm w.r.t. its embedding).
 * Hooks for tests and readers: window.rnnbookHidden(text), window.rnnbookConnectivity(text, t).
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

  // out[r] = b[r] + sum_c W[r, c] * x[c]   (W row-major, as in PyTorch; four sums per row, for speed)
  function affine(W, b, rows, cols, x, out) {
    const c4 = cols - (cols % 4);
    for (let r = 0; r < rows; r++) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0;
      const base = r * cols;
      for (; c < c4; c += 4) {
        s0 += W[base + c] * x[c];
        s1 += W[base + c + 1] * x[c + 1];
        s2 += W[base + c + 2] * x[c + 2];
        s3 += W[base + c + 3] * x[c + 3];
      }
      for (; c < cols; c++) s0 += W[base + c] * x[c];
      out[r] = b[r] + (s0 + s1) + (s2 + s3);
    }
  }

  // out[c] += sum_r W[r, c] * g[r]   (the transpose, for backpropagation)
  function addTransposed(W, rows, cols, g, out) {
    for (let r = 0; r < rows; r++) {
      const gr = g[r], base = r * cols;
      if (gr === 0) continue;
      for (let c = 0; c < cols; c++) out[c] += W[base + c] * gr;
    }
  }

  // The same product in WebAssembly with 128-bit SIMD, several times faster than the loop above. Each step of
  // the inner loop reads eight float32 weights, two at a time, widens them to float64 and multiplies-adds them
  // with the matching pairs of x into four independent sums (one sum would wait on the latency of each add).
  // The module, byte by byte (its text form: WAT, in the comments), has one function,
  //   affine(w, x, out, rows, cols): out[r] += sum_c w[r * cols + c] * x[c]  (byte offsets; cols a multiple of 8)
  // over a memory that JavaScript provides and fills: w float32, x and out float64.
  const leb = (n) => { const b = []; do { let v = n & 127; n >>>= 7; if (n) v |= 128; b.push(v); } while (n); return b; };
  const vec = (items) => [...leb(items.length), ...items.flat()];
  const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
  const simd = (op) => [0xfd, ...leb(op)];
  const [W, X, OUT, ROWS, COLS, END, XP, A0, A1, A2, A3] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; // params, then locals
  const get = (i) => [0x20, i], set = (i) => [0x21, i], tee = (i) => [0x22, i];
  const i32 = (v) => [0x41, ...(v < 64 ? [v] : [v & 127 | 128, v >> 7])]; // i32.const v (signed LEB128; 0 <= v < 8192)
  const f64x2add = simd(0xf0), f64x2mul = simd(0xf2), promote = simd(0x5f), lane = (k) => [...simd(0x21), k];
  const madd = (acc, k) => [ //                      acc += promote(w[2k], w[2k+1]) * (x[2k], x[2k+1])
    get(acc), get(W), simd(0x5d), 3, 8 * k, promote, get(XP), simd(0x00), 4, 16 * k, f64x2mul, f64x2add, set(acc)];
  const AFFINE_BODY = [
    0x02, 0x40, 0x03, 0x40, //                       block, loop $rows
    get(ROWS), 0x45, 0x0d, 1, //                     (br_if 1 (i32.eqz rows)): done
    get(X), set(XP), get(W), get(COLS), i32(2), 0x74, 0x6a, set(END), // xp = x; end = w + cols * 4
    [A0, A1, A2, A3].map((a) => [0x44, 0, 0, 0, 0, 0, 0, 0, 0, simd(0x14), set(a)]), // sums = f64x2.splat 0
    0x03, 0x40, //                                   loop $cols
    madd(A0, 0), madd(A1, 1), madd(A2, 2), madd(A3, 3), // eight columns
    get(XP), i32(64), 0x6a, set(XP), get(W), i32(32), 0x6a, tee(W), get(END), 0x49, 0x0d, 0, // next 8; br_if $cols (w < end)
    0x0b, //                                         end $cols
    get(A0), get(A1), f64x2add, get(A2), get(A3), f64x2add, f64x2add, set(A0), // (a0 + a1) + (a2 + a3)
    get(OUT), get(OUT), 0x2b, 3, 0, get(A0), lane(0), get(A0), lane(1), 0xa0, 0xa0, 0x39, 3, 0, // out[r] += both lanes
    get(OUT), i32(8), 0x6a, set(OUT), get(ROWS), i32(1), 0x6b, set(ROWS), 0x0c, 0, // next row; br $rows
    0x0b, 0x0b, 0x0b, //                             end $rows, end block, end function
  ].flat(Infinity);
  const AFFINE_LOCALS = [2, 2, 0x7f, 4, 0x7b]; // end, xp: i32; four sums: v128
  const AFFINE_WASM = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([[0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]])), // type: (i32 x 5) -> ()
    ...section(2, vec([[1, 0x6d, 3, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x00]])), // import memory "m" "mem", min 0 pages
    ...section(3, vec([[0]])), // one function, of type 0
    ...section(7, vec([[6, ...Array.from("affine", (c) => c.charCodeAt(0)), 0x00, 0]])), // export "affine": function 0
    ...section(10, vec([[...leb(AFFINE_LOCALS.length + AFFINE_BODY.length), ...AFFINE_LOCALS, ...AFFINE_BODY]])),
  ]);

  // A memory in WebAssembly that holds the weights (float32) and two float64 work vectors, and the product on it;
  // null where WebAssembly SIMD is unavailable (the JavaScript loop then does the work).
  function wasmKernel(floats, maxSize) {
    try {
      if (!(typeof WebAssembly === "object" && WebAssembly.validate(AFFINE_WASM))) return null;
      const bytes = 16 * Math.ceil(floats / 4) + 16 * maxSize + 64;
      const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
      const { affine } = new WebAssembly.Instance(new WebAssembly.Module(AFFINE_WASM), { m: { mem: memory } }).exports;
      let used = 0;
      const take = (Type, n) => { const a = new Type(memory.buffer, used, n); used += 16 * Math.ceil(a.byteLength / 16); return a; };
      const X = take(Float64Array, maxSize), O = take(Float64Array, maxSize);
      return {
        weights: (values) => { const a = take(Float32Array, values.length); a.set(values); return a; },
        affine: function simdAffine(Wm, b, rows, cols, x, out) { // affine() above, for W in this memory, cols % 8 === 0
          X.set(x);
          O.set(b);
          affine(Wm.byteOffset, X.byteOffset, O.byteOffset, rows, cols);
          out.set(O.subarray(0, rows));
        },
      };
    } catch (e) {
      return null;
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
      const G = this.gates * this.H, t = spec.tensors;
      const matrices = [t.W_out, ...t.layers.flatMap((l) => [l.W_ih, l.W_hh])].map(decode);
      const kernel = (this.E % 8 === 0 && this.H % 8 === 0 && wasmKernel(matrices.reduce((n, m) => n + m.length, 0),
        Math.max(this.V, G, this.E))) || { weights: (m) => m, affine };
      const [W_out, ...Ws] = matrices.map(kernel.weights);
      this.affine = kernel.affine;
      this.embed = decode(t.embed);
      this.layers = t.layers.map((l, k) => ({
        W_ih: Ws[2 * k], W_hh: Ws[2 * k + 1], b_ih: decode(l.b_ih), b_hh: decode(l.b_hh), inSize: k === 0 ? this.E : this.H,
      }));
      this.W_out = W_out;
      this.b_out = decode(t.b_out);
      this.inputTerms = new Float64Array(this.V * G); // W_ih e_v + b_ih of layer 0 for each character v, looked up
      for (let v = 0; v < this.V; v++) {
        affine(this.layers[0].W_ih, this.layers[0].b_ih, G, this.E, this.embed.subarray(v * this.E, (v + 1) * this.E),
          this.inputTerms.subarray(v * G, (v + 1) * G));
      }
      this.gi = new Float64Array(G); // work buffers: input and hidden pre-activations
      this.gh = new Float64Array(G);
    }

    initialState() {
      return this.layers.map(() => ({ h: new Float64Array(this.H), c: new Float64Array(this.H) }));
    }

    // One layer's step: input x, state s (updated in place); `rec`, if given, receives what backprop needs.
    // `inputTerm`, if given, is W_ih x + b_ih, already computed.
    layerStep(L, x, s, rec, inputTerm) {
      const H = this.H, G = this.gates * H, gi = this.gi, gh = this.gh, h = s.h;
      if (inputTerm) gi.set(inputTerm);
      else this.affine(L.W_ih, L.b_ih, G, L.inSize, x, gi);
      this.affine(L.W_hh, L.b_hh, G, H, h, gh);
      if (rec) { rec.hPrev = Float64Array.from(h); rec.cPrev = Float64Array.from(s.c); }
      if (this.cell === "rnn") {
        for (let j = 0; j < H; j++) h[j] = Math.tanh(gi[j] + gh[j]);
      } else if (this.cell === "lstm") { // gates i, f, g, o
        const c = s.c;
        for (let j = 0; j < H; j++) {
          const i = sigmoid(gi[j] + gh[j]);
          const f = sigmoid(gi[H + j] + gh[H + j]);
          const g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]);
          const o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * Math.tanh(c[j]);
          if (rec) { gi[j] = i; gi[H + j] = f; gi[2 * H + j] = g; gi[3 * H + j] = o; }
        }
      } else { // gru: gates r, z, n
        for (let j = 0; j < H; j++) {
          const r = sigmoid(gi[j] + gh[j]);
          const z = sigmoid(gi[H + j] + gh[H + j]);
          const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
          h[j] = (1 - z) * n + z * h[j];
          if (rec) { gi[j] = r; gi[H + j] = z; gi[2 * H + j] = n; } // gh[2H + j] stays: W_hn h + b_hn
        }
      }
      if (rec) { rec.gates = Float64Array.from(gi); rec.ghn = Float64Array.from(gh); rec.h = Float64Array.from(h); rec.c = Float64Array.from(s.c); }
    }

    // One step: token id in, logits out (into `logits` if given); `state` is updated in place.
    // `rec`, if given, is an array that receives one record per layer for backpropagation.
    step(token, state, logits, rec) {
      const G = this.gates * this.H;
      let x = null; // layer 0 looks its input term up
      for (let k = 0; k < this.layers.length; k++) {
        const r = rec ? {} : null;
        this.layerStep(this.layers[k], x, state[k], r, k === 0 ? this.inputTerms.subarray(token * G, (token + 1) * G) : null);
        if (rec) rec.push(r);
        x = state[k].h;
      }
      logits = logits || new Float64Array(this.V);
      this.affine(this.W_out, this.b_out, this.V, this.H, x, logits);
      return logits;
    }

    // Backprop one layer's step: dh (and dc for the LSTM) w.r.t. its output; returns dx and the
    // gradients w.r.t. the previous state, {dx, dh, dc}.
    layerBack(L, rec, dh, dc) {
      const H = this.H, G = this.gates * H, da_i = new Float64Array(G), da_h = new Float64Array(G);
      const g = rec.gates, dhPrev = new Float64Array(H), dcPrev = new Float64Array(H);
      if (this.cell === "rnn") {
        for (let j = 0; j < H; j++) da_i[j] = da_h[j] = dh[j] * (1 - rec.h[j] * rec.h[j]);
      } else if (this.cell === "lstm") {
        for (let j = 0; j < H; j++) {
          const i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j], tc = Math.tanh(rec.c[j]);
          const dcj = dc[j] + dh[j] * o * (1 - tc * tc);
          da_i[j] = dcj * gg * i * (1 - i);
          da_i[H + j] = dcj * rec.cPrev[j] * f * (1 - f);
          da_i[2 * H + j] = dcj * i * (1 - gg * gg);
          da_i[3 * H + j] = dh[j] * tc * o * (1 - o);
          dcPrev[j] = dcj * f;
        }
        da_h.set(da_i);
      } else {
        for (let j = 0; j < H; j++) {
          const r = g[j], z = g[H + j], n = g[2 * H + j];
          const dan = dh[j] * (1 - z) * (1 - n * n);
          const daz = dh[j] * (rec.hPrev[j] - n) * z * (1 - z);
          const dar = dan * rec.ghn[2 * H + j] * r * (1 - r);
          da_i[j] = da_h[j] = dar;
          da_i[H + j] = da_h[H + j] = daz;
          da_i[2 * H + j] = dan;
          da_h[2 * H + j] = dan * r;
          dhPrev[j] = dh[j] * z;
        }
      }
      const dx = new Float64Array(L.inSize);
      addTransposed(L.W_ih, G, L.inSize, da_i, dx);
      addTransposed(L.W_hh, G, H, da_h, dhPrev);
      return { dx, dh: dhPrev, dc: dcPrev };
    }
  }

  // ---------- what the network computes on a text ----------
  function encodeStrict(text, spec) {
    const stoi = new Map(spec.vocab.map((c, i) => [c, i]));
    return Array.from(text, (ch) => {
      if (!stoi.has(ch)) throw new Error(`character ${JSON.stringify(ch)} is not in the model's vocabulary`);
      return stoi.get(ch);
    });
  }

  function softmax(logits) {
    let m = -Infinity, sum = 0;
    for (const v of logits) m = Math.max(m, v);
    const p = new Float64Array(logits.length);
    for (let i = 0; i < p.length; i++) { p[i] = Math.exp(logits[i] - m); sum += p[i]; }
    for (let i = 0; i < p.length; i++) p[i] /= sum;
    return p;
  }

  // For each character read from a zero state: the last layer's state h and the model's distribution p
  // over the next character (temperature 1, no filter).
  function analyse(model, ids) {
    const state = model.initialState(), top = state.length - 1, h = [], p = [];
    const logits = new Float64Array(model.V);
    for (const id of ids) {
      model.step(id, state, logits);
      h.push(Float32Array.from(state[top].h));
      p.push(Float32Array.from(softmax(logits)));
    }
    return { h, p };
  }

  // Norms of the gradient of log p(c_t | c_0 .. c_{t-1}) w.r.t. the embeddings of c_s, for s = t-window .. t-1
  // (all t when window is absent); positions before the window get NaN. Exact backpropagation through
  // every layer; the forward pass runs from a zero state over all t characters.
  function connectivity(model, ids, t, window) {
    if (!(Number.isInteger(t) && t >= 1 && t < ids.length))
      throw new RangeError(`t must be an integer from 1 to ${ids.length - 1} (the text has ${ids.length} characters), got ${t}`);
    const from = window ? Math.max(0, t - window) : 0;
    const state = model.initialState(), recs = [];
    let logits;
    for (let s = 0; s < t; s++) {
      const rec = s >= from ? [] : null;
      logits = model.step(ids[s], state, null, rec);
      recs.push(rec);
    }
    const p = softmax(logits), dy = p.map((v, k) => (k === ids[t] ? 1 : 0) - v); // d log p_target / d logits
    const L = model.layers.length, H = model.H;
    const carry = model.layers.map(() => ({ dh: new Float64Array(H), dc: new Float64Array(H) }));
    addTransposed(model.W_out, model.V, H, dy, carry[L - 1].dh);
    const norms = new Array(t).fill(NaN);
    for (let s = t - 1; s >= from; s--) {
      let above = null;
      for (let k = L - 1; k >= 0; k--) {
        const dh = carry[k].dh;
        if (above) for (let j = 0; j < H; j++) dh[j] += above[j];
        const back = model.layerBack(model.layers[k], recs[s][k], dh, carry[k].dc);
        carry[k] = { dh: back.dh, dc: back.dc };
        above = back.dx;
      }
      let sq = 0;
      for (const v of above) sq += v * v;
      norms[s] = Math.sqrt(sq);
    }
    return norms;
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
    const limitK = topK && topK < V, limitP = topP && topP < 1;
    if (!limitK && !limitP) return p;
    const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b);
    const keep = new Uint8Array(V).fill(1);
    if (limitK) for (let r = topK; r < V; r++) keep[order[r]] = 0;
    if (limitP) {
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
    const state = model.initialState(), logits = new Float64Array(model.V);
    for (const id of warm) model.step(id, state, logits);
    for (let n = 0; n < settings.length; n++) {
      const probs = filteredProbs(logits, settings.temperature, settings.topK, settings.topP);
      const next = settings.temperature === 0 ? argmax(logits) : draw(probs, rand);
      yield { char: spec.vocab[next], probs };
      model.step(next, state, logits);
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
  const VIEWS = [["text", "Text"], ["unit", "Hidden unit"], ["surprise", "Surprise"], ["connectivity", "Connectivity"]];
  const WINDOW = 200; // characters back that the connectivity view differentiates through

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children || []) e.append(c);
    return e;
  }

  const show = (ch) => (ch === "\n" ? "\\n" : ch === " " ? "␣" : ch);

  function showChart(chart, probs, vocab) {
    const top = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 12);
    chart.replaceChildren(...top.map((i) => el("div", { class: "rnnbook-bar" }, [
      el("span", { class: "rnnbook-bar-label" }, [show(vocab[i])]),
      el("span", { class: "rnnbook-bar-fill", style: `width:${(100 * probs[i]).toFixed(1)}%` }),
      el("span", { class: "rnnbook-bar-value" }, [(100 * probs[i]).toFixed(1) + "%"]),
    ])));
  }

  // Background colours: red for positive, blue for negative (a in [-1, 1]); one hue for a in [0, 1].
  const diverging = (a) => {
    const v = Math.round(255 * (1 - 0.6 * Math.min(1, Math.abs(a))));
    return a >= 0 ? `rgb(255,${v},${v})` : `rgb(${v},${v},255)`;
  };
  const sequential = (a, hue) => `hsl(${hue},90%,${(100 - 45 * Math.min(1, Math.max(0, a))).toFixed(1)}%)`;

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
    const output = el("pre", { class: "rnnbook-output", id: idBase + "-output", "data-state": "idle", "data-view": "text" });
    const chart = el("div", { class: "rnnbook-chart", id: idBase + "-chart" });
    const viewRow = el("div", { class: "rnnbook-views", role: "radiogroup", "aria-label": "View" });
    const viewInputs = {};
    for (const [name, label] of VIEWS) {
      viewInputs[name] = el("input", { type: "radio", name: idBase + "-view", value: name });
      viewRow.append(el("label", {}, [viewInputs[name], " " + label]));
    }
    viewInputs.text.checked = true;
    const unitInput = el("input", { name: "unit", type: "number", min: "0", value: "0", id: idBase + "-unit" });
    const unitSelect = el("select", { name: "named-unit" }, [el("option", { value: "" }, ["units the book names..."])]);
    const activeButton = el("button", { type: "button", class: "rnnbook-small" }, ["Most active units"]);
    const activeList = el("span", { class: "rnnbook-active" });
    const unitRow = el("div", { class: "rnnbook-unit-row", hidden: "" }, [
      el("label", {}, ["unit ", unitInput]), unitSelect, activeButton, activeList]);
    const inspect = el("div", { class: "rnnbook-inspect", id: idBase + "-inspect", role: "status" });
    root.replaceChildren(
      el("label", { class: "rnnbook-prompt-label", for: idBase + "-prompt" }, ["Prompt"]), prompt,
      row, button, message,
      el("div", { class: "rnnbook-panels" }, [
        el("div", {}, [el("div", { class: "rnnbook-caption" }, ["Generated text"]), viewRow, unitRow, output, inspect]),
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
    unitInput.max = String(model.H - 1);
    for (const u of spec.units || []) {
      unitSelect.append(el("option", { value: String(u.unit) }, [`${u.name}: unit ${u.unit} (r = ${u.r.toFixed(2)})`]));
    }
    let run = 0, text = prompt.value, cache = null, target = null;

    function settings() {
      const values = {};
      for (const name in inputs) values[name] = inputs[name].value;
      return parseSettings(values);
    }

    // The text's characters, each with its step of the network (-1 for characters the vocabulary lacks).
    function analysis() {
      if (cache && cache.text === text) return cache;
      const chars = Array.from(text), steps = [], ids = [];
      for (const ch of chars) { steps.push(stoi.has(ch) ? ids.length : -1); if (stoi.has(ch)) ids.push(stoi.get(ch)); }
      cache = { text, chars, steps, ids, ...analyse(model, ids) };
      return cache;
    }

    const currentUnit = () => Math.min(model.H - 1, Math.max(0, Number(unitInput.value) | 0));
    const view = () => VIEWS.map((v) => v[0]).find((v) => viewInputs[v].checked);

    function render() { // the output box, in the chosen view
      const v = view();
      output.dataset.view = v;
      unitRow.hidden = v !== "unit";
      if (v === "text" || output.dataset.state === "running") { output.textContent = text; return; }
      const a = analysis(), spans = [];
      const unit = currentUnit();
      let norms = null, scale = 0;
      if (v === "connectivity") {
        if (target === null || target >= a.ids.length) target = a.ids.length - 1;
        if (target >= 1) {
          norms = connectivity(model, a.ids, target, WINDOW);
          for (const n of norms) if (n > scale) scale = n;
        }
      }
      a.chars.forEach((ch, i) => {
        const s = a.steps[i], span = el("span", { "data-i": String(i) }, [ch]);
        if (s >= 0) {
          if (v === "unit") span.style.background = diverging(a.h[s][unit]);
          else if (v === "surprise" && s >= 1) span.style.background = sequential(-Math.log2(a.p[s - 1][a.ids[s]]) / 8, 25);
          else if (v === "connectivity" && norms) {
            if (s < target && !Number.isNaN(norms[s])) span.style.background = sequential(1 + Math.log10(norms[s] / scale) / 3, 145);
            if (s === target) span.className = "rnnbook-target";
          }
        }
        spans.push(span);
      });
      output.replaceChildren(...spans);
      describe(null);
    }

    function describe(i) { // the line under the text: what the view shows at character i
      const v = view(), a = cache;
      if (v === "text" || !a) { inspect.textContent = ""; return; }
      if (v === "unit") {
        const unit = currentUnit();
        inspect.textContent = i === null ? `Unit ${unit}: red positive, blue negative, white near zero. Point at a character for its value.`
          : a.steps[i] < 0 ? "not in the vocabulary" : `${JSON.stringify(a.chars[i])}: unit ${unit} = ${a.h[a.steps[i]][unit].toFixed(3)}`;
      } else if (v === "surprise") {
        const s = i === null ? -1 : a.steps[i];
        if (s < 1) { inspect.textContent = "Darker: less expected (−log₂ p, up to 8 bits). Point at or tap a character for the five likeliest characters at that step."; return; }
        const p = a.p[s - 1], top = Array.from(p.keys()).sort((x, y) => p[y] - p[x]).slice(0, 5);
        inspect.textContent = `${show(a.chars[i])}: p = ${(100 * p[a.ids[s]]).toFixed(1)}%; likeliest: `
          + top.map((k) => `${show(spec.vocab[k])} ${(100 * p[k]).toFixed(1)}%`).join(", ");
      } else {
        inspect.textContent = target === null || target < 1 ? "Tap a character to see what its prediction depended on."
          : `Predicting ${show(spec.vocab[a.ids[target]])} (outlined): the darker the green, the larger the gradient of its `
            + `log-probability w.r.t. an earlier character's embedding (log scale, three decades below the largest; `
            + `the last ${WINDOW} characters). Tap another character.`;
      }
    }

    output.addEventListener("mouseover", (e) => { if (e.target.dataset.i !== undefined && view() !== "connectivity") describe(Number(e.target.dataset.i)); });
    output.addEventListener("click", (e) => {
      if (e.target.dataset.i === undefined) return;
      const i = Number(e.target.dataset.i);
      if (view() === "connectivity" && cache && cache.steps[i] >= 1) { target = cache.steps[i]; render(); describe(i); }
      else describe(i);
    });
    for (const name in viewInputs) viewInputs[name].addEventListener("change", render);
    unitInput.addEventListener("input", render);
    unitSelect.addEventListener("change", () => { if (unitSelect.value !== "") { unitInput.value = unitSelect.value; render(); } });
    activeButton.addEventListener("click", () => { // the units whose activation varies most over this text
      const a = analysis(), H = model.H, sd = new Float64Array(H);
      for (let u = 0; u < H; u++) {
        let m = 0, q = 0;
        for (const h of a.h) { m += h[u]; q += h[u] * h[u]; }
        m /= a.h.length || 1;
        sd[u] = Math.sqrt(Math.max(0, q / (a.h.length || 1) - m * m));
      }
      const best = Array.from(sd.keys()).sort((x, y) => sd[y] - sd[x]).slice(0, 5);
      activeList.replaceChildren(...best.map((u) => {
        const b = el("button", { type: "button", class: "rnnbook-small", "data-unit": String(u) }, [String(u)]);
        b.addEventListener("click", () => { unitInput.value = String(u); render(); });
        return b;
      }));
      unitInput.value = String(best[0]);
      render();
    });

    function preview() { // distribution after the prompt, as the settings change
      const s = settings();
      const { ids, unknown } = encodePrompt(prompt.value, stoi);
      const notes = [];
      if (unknown.length) notes.push("Not in the vocabulary, skipped: " + unknown.map((c) => JSON.stringify(c)).join(" "));
      if (s.errors.length) notes.push(...s.errors);
      message.textContent = notes.join(" · ");
      message.className = "rnnbook-message" + (s.errors.length ? " rnnbook-error" : unknown.length ? " rnnbook-warning" : "");
      if (s.errors.length) return;
      const state = model.initialState(), logits = new Float64Array(model.V);
      for (const id of ids.length ? ids : [stoi.get(spec.default_prompt)]) model.step(id, state, logits);
      showChart(chart, filteredProbs(logits, s.temperature, s.topK, s.topP), spec.vocab);
    }

    function start() {
      const began = performance.now(), s = settings();
      preview();
      if (s.errors.length) return;
      const me = ++run, parts = [prompt.value];
      output.dataset.state = "running";
      delete output.dataset.seconds;
      text = prompt.value;
      target = null;
      render();
      const gen = generate(model, spec, prompt.value, s);
      let last = null, frame = 0, finished = false;
      function paint() { // at most once per animation frame: the text so far and the latest distribution
        frame = 0;
        if (me !== run) return;
        text = parts.join("");
        if (last) showChart(chart, last, spec.vocab);
        if (!finished) { output.textContent = text; return; }
        output.dataset.state = "done";
        render();
        output.dataset.seconds = ((performance.now() - began) / 1000).toFixed(4); // from the click to the text shown
      }
      // Compute in slices of about 50 ms: the page stays responsive, the text grows 20 times a second, and
      // the browser spends little of the time drawing (each drawing of the page takes a few milliseconds).
      function work() {
        if (me !== run) return;
        try {
          const t0 = performance.now();
          do {
            const { value } = gen.next();
            last = value.probs;
            if (value.char === null) { finished = true; break; }
            parts.push(value.char);
          } while (performance.now() - t0 < 50);
          if (!frame) frame = requestAnimationFrame(paint);
          if (!finished) soon(work);
        } catch (e) {
          message.textContent = "Generation failed: " + e.message;
          message.className = "rnnbook-message rnnbook-error";
          output.dataset.state = "error";
          text = parts.join("");
          output.textContent = text;
        }
      }
      work();
    }

    button.addEventListener("click", start);
    prompt.addEventListener("input", () => {
      preview();
      if (output.dataset.state !== "running") { text = prompt.value; target = null; output.dataset.state = "idle"; render(); }
    });
    for (const name in inputs) inputs[name].addEventListener("input", preview);
    preview();
    render();
  }

  // Run f in a task of its own, soon. setTimeout(f, 0) would wait at least 4 ms once nested (the HTML standard's
  // timer clamping), a tenth of each 50 ms slice; a message to ourselves waits for nothing but the page's own work.
  const soon = (() => {
    const channel = new MessageChannel(), queue = [];
    channel.port1.onmessage = () => queue.shift()();
    return (f) => { queue.push(f); channel.port2.postMessage(null); };
  })();

  function mountAll() {
    document.querySelectorAll(".rnnbook-sampler").forEach((root) => {
      try { mount(root); } catch (e) { root.textContent = "The sampler could not start: " + e.message; }
    });
  }

  let shared = null; // one model for the hooks
  const hookModel = () => (shared = shared || new CharRNN(window.RNNBOOK_MODEL));
  // For each character of text read from a zero state, the last layer's hidden state: T arrays of H numbers.
  window.rnnbookHidden = (text) => analyse(hookModel(), encodeStrict(text, window.RNNBOOK_MODEL)).h.map((h) => Array.from(h));
  // The t norms of the gradient of log p(text[t] | text[:t]) w.r.t. the embeddings of text[0], ..., text[t-1].
  window.rnnbookConnectivity = (text, t) => connectivity(hookModel(), encodeStrict(text, window.RNNBOOK_MODEL), t);
  window.rnnbookSampler = { CharRNN, filteredProbs, parseSettings, encodePrompt, generate, mulberry32, analyse, connectivity };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
