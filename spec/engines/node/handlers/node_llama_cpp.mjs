// node-llama-cpp through the bridge (spec/engines/node_llama_cpp.py): loads a GGUF logits-table model
// (spec/tables/gguf.py) and draws with node-llama-cpp's own sampler, one prompt token per draw.
// `LlamaContextSequence.controlledEvaluate` (dist/evaluator/LlamaContext/LlamaContext.js, 3.22.1) runs one
// decode over the tokens and, for each, `_resolveSamplerConfig` + `AddonSampler::applyConfig` + `sampleToken`:
// the chain of llama/addon/AddonSampler.cpp. The table model's attention output is zero, so the logits at
// position i depend on token i only: one sequence holds many draws. A call's draws go in chunks of `batch`
// tokens, one controlledEvaluate each: node-llama-cpp makes one LlamaSampler per controlledEvaluate, seeded
// once (chunk i: seed + i * SEED_STEP) and running on across the chunk's tokens.
import { getLlama, LlamaLogLevel, TokenBias } from "node-llama-cpp";

const KEEP = 2; // models kept loaded (the validator reuses a case's rows for many calls)
const SEED_STEP = 0x9e3779b1; // chunk i of a call is seeded with seed + i * SEED_STEP (mod 2^32 - 1)
let llama = null;
const loaded = new Map(); // path#threads#sequences -> {model, context, sequences, batch}

async function open(path, width, threads, sequences) {
  const key = `${path}#${threads}#${sequences}`;
  if (loaded.has(key)) return loaded.get(key);
  llama ??= await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  while (loaded.size >= KEEP) {
    const [oldest, entry] = loaded.entries().next().value;
    loaded.delete(oldest);
    await entry.context.dispose();
    await entry.model.dispose();
  }
  const model = await llama.loadModel({ modelPath: path });
  // the logits buffer is batch x vocabulary floats: keep it near 16 MB at any vocabulary size
  const batch = Math.max(8, Math.min(1024, Math.floor(2 ** 22 / width)));
  const context = await model.createContext({ contextSize: batch * sequences + 8, batchSize: batch * sequences,
    sequences, threads: threads || undefined });
  const entry = { model, context, batch, sequences: Array.from({ length: sequences }, () => context.getSequence()) };
  loaded.set(key, entry);
  return entry;
}

// The sequence-level options (node-llama-cpp's names) for one draw; `history` feeds repeatPenalty.punishTokens.
function options(entry, given, seed, history) {
  const out = {};
  for (const name of ["temperature", "minP", "topK", "topP", "xtc"]) if (given[name] !== undefined) out[name] = given[name];
  if (seed !== null) out.seed = seed;
  if (given.tokenBias) {
    const bias = new TokenBias(entry.model.tokenizer);
    for (const [token, logit] of Object.entries(given.tokenBias)) bias.set(Number(token), logit === -Infinity ? "never" : { logit });
    out.tokenBias = bias;
  }
  if (given.repeatPenalty) out.repeatPenalty = { ...given.repeatPenalty, punishTokens: Array.from(history?.data ?? []) };
  return out;
}

async function chunk(entry, sequence, tokens, histories, given, seed, logits, vocab, into, offset) {
  await sequence.clearHistory();
  const input = Array.from(tokens, (t, i) => [t, { generateNext: { token: true, logits: logits || undefined,
    options: options(entry, given, seed, histories ? histories[offset + i] : null) } }]);
  const results = await sequence.controlledEvaluate(input);
  for (let i = 0; i < tokens.length; i++) {
    const next = results[i]?.next;
    into.tokens[offset + i] = next?.token ?? -1;
    if (!logits || !next?.logits) continue;
    for (const [token, value] of next.logits) if (token < vocab) into.logits[(offset + i) * vocab + token] = value;
  }
}

// One call: a draw for each prompt token (rows of the table), with node-llama-cpp's options; with `logits`,
// also the candidates left after the chain (logits after temperature), -inf where dropped.
async function draw({ path, width, tokens, options: given, seed = null, histories = null, logits = false, vocab,
                      threads = 0, sequences = 1 }) {
  const entry = await open(path, width, threads, sequences);
  const ids = tokens.data;
  const into = { tokens: new Int32Array(ids.length),
    logits: logits ? new Float32Array(ids.length * vocab).fill(-Infinity) : null };
  const jobs = [];
  for (let start = 0, i = 0; start < ids.length; start += entry.batch, i++) jobs.push([start, i]);
  for (let j = 0; j < jobs.length; j += entry.sequences.length) {
    await Promise.all(jobs.slice(j, j + entry.sequences.length).map(([start, i], s) => chunk(entry, entry.sequences[s],
      ids.subarray(start, start + entry.batch), histories, given,
      seed === null ? null : (seed + i * SEED_STEP) % 0xffffffff, logits, vocab, into, start)));
  }
  return logits ? { tokens: into.tokens, logits: { data: into.logits, shape: [ids.length, vocab] } } : { tokens: into.tokens };
}

// node-llama-cpp's token-level generation loop: `evaluateWithMetadata(prompt, {probabilities: true}, options)`
// on a fresh sequence, `steps` tokens, each with the distribution it was drawn from (after the chain);
// repeatPenalty.punishTokens is every token so far (prompt + generated).
async function generate({ path, width, prompt, options: given, seed = null, steps, vocab }) {
  const entry = await open(path, width, 1, 1);
  const sequence = entry.sequences[0];
  await sequence.clearHistory();
  const seen = Array.from(prompt.data);
  const opts = options(entry, given, seed, null);
  if (given.repeatPenalty) opts.repeatPenalty = { ...given.repeatPenalty, punishTokens: () => seen.slice() };
  const tokens = new Int32Array(steps);
  const probs = new Float32Array(steps * vocab);
  let n = 0;
  for await (const { token, probabilities } of sequence.evaluateWithMetadata(seen.slice(), { probabilities: true }, opts)) {
    tokens[n] = token;
    for (const [t, p] of probabilities) if (t < vocab) probs[n * vocab + t] = p;
    seen.push(token);
    if (++n >= steps) break;
  }
  return { tokens: tokens.subarray(0, n), probabilities: { data: probs.subarray(0, n * vocab), shape: [n, vocab] } };
}

export async function handle(op, args) {
  if (op === "draw") return draw(args);
  if (op === "generate") return generate(args);
  throw new Error(`node_llama_cpp: unknown op ${op}`);
}
