// transformers.js (npm @huggingface/transformers) behind the bridge: what its generate() does to one step's
// logits, called through the installed package's own source (src/, the code its dist bundle is built from;
// LogitsSampler is not exported by the bundle). Per step generate() (src/models/modeling_utils.js,
// PreTrainedModel.generate) builds `this._get_logits_processor(generation_config, ...)` once, then
// `LogitsSampler.getSampler(generation_config)`, runs the processors on the float32 [B, V] logits with
// every row's prompt + output ids, and calls the sampler row by row, all from the module-level Mersenne
// Twister of src/utils/random.js (`random.seed(n)` reproduces). This handler does exactly that.
const base = new URL("../node_modules/@huggingface/transformers/src/", import.meta.url);
const [{ LogitsSampler }, { GenerationConfig }, { PreTrainedModel }, { Tensor, topk }, { random }, library] =
  await Promise.all(["generation/logits_sampler.js", "generation/configuration_utils.js",
    "models/modeling_utils.js", "utils/tensor.js", "utils/random.js", "transformers.js"]
    .map((p) => import(new URL(p, base))));
library.env.allowRemoteModels = false; // nothing is fetched from a hub: the models are local files
const models = new Map(); // directory -> the loaded model, kept while the bridge lives

/** generate()'s processors and sampler for `params` (GenerationConfig's own names), for inputs of `length`. */
function prepare(params, length) {
  const config = new GenerationConfig(params); // as _prepare_generation_config: known names only
  const processors = PreTrainedModel.prototype._get_logits_processor.call(null, config, length, null);
  return { config, processors, sampler: LogitsSampler.getSampler(config) };
}

/** The rows as the float32 [B, V] Tensor generate() gets, and every row's ids as bigint (all_input_ids). */
function inputs(args) {
  const [rows, vocab] = args.logits.shape;
  const logits = new Tensor("float32", Float32Array.from(args.logits.data), [rows, vocab]);
  const ids = (args.histories ?? Array.from({ length: rows }, () => [])).map((h) => h.map((t) => BigInt(t)));
  return { logits, ids, rows, vocab, length: Math.max(0, ...ids.map((h) => h.length)) };
}

async function sample(args) {
  const { logits, ids, rows, length } = inputs(args);
  const { processors, sampler } = prepare(args.params, length);
  if (args.seed !== null && args.seed !== undefined) random.seed(args.seed);
  const scores = processors(ids, logits);
  const tokens = new Int32Array(rows);
  for (let b = 0; b < rows; ++b) {
    const [[token]] = await sampler(scores[b]);
    tokens[b] = Number(token);
  }
  return tokens;
}

/** White-box: the processors' scores, and of them only what MultinomialSampler.sample keeps (its topk). */
async function filter(args) {
  const { logits, ids, rows, vocab, length } = inputs(args);
  const { config, processors } = prepare(args.params, length);
  const scores = processors(ids, logits);
  if (!config.do_sample) return { data: scores.data, shape: [rows, vocab] };
  const k = config.top_k > 0 ? Math.min(config.top_k, vocab) : vocab; // as MultinomialSampler.sample
  const out = new Float32Array(rows * vocab).fill(-Infinity);
  for (let b = 0; b < rows; ++b) {
    const [v, i] = await topk(scores[b], k);
    for (let j = 0; j < v.data.length; ++j) out[b * vocab + Number(i.data[j])] = v.data[j];
  }
  return { data: out, shape: [rows, vocab] };
}

async function model(directory) {
  if (!models.has(directory)) {
    models.set(directory, await library.AutoModelForCausalLM.from_pretrained(directory, { dtype: "fp32", device: "cpu" }));
  }
  return models.get(directory);
}

/** An int64 [1, L] prompt and its all-ones attention mask, as a tokenizer would give them. */
function prompt(ids) {
  const tokens = ids.map((t) => BigInt(t));
  return { input_ids: new Tensor("int64", tokens, [1, tokens.length]),
    attention_mask: new Tensor("int64", tokens.map(() => 1n), [1, tokens.length]) };
}

/** The model's own forward pass: the logits at the last position after `ids` (float32, length V). */
async function forward(args) {
  const { logits } = await (await model(args.model))(prompt(args.ids));
  const vocab = logits.dims.at(-1);
  return logits.data.slice(logits.data.length - vocab);
}

/** The model's own generate() for `steps` new tokens after `ids`, from `random.seed(seed)`: the tokens, and
 * what a processor appended last (generate()'s `logits_processor` option) saw at each step: the scores the
 * sampler got, which are the processed logits when no warper acts (temperature 1). */
async function generate(args) {
  const seen = [];
  const record = (_ids, scores) => { seen.push(Float32Array.from(scores.data)); return scores; };
  random.seed(args.seed);
  const out = await (await model(args.model)).generate({ ...prompt(args.ids), ...args.params,
    max_new_tokens: args.steps, logits_processor: [record] });
  const tokens = Int32Array.from(out.tolist()[0].slice(args.ids.length).map(Number));
  const vocab = seen[0].length;
  const scores = new Float32Array(seen.length * vocab);
  seen.forEach((row, i) => scores.set(row, i * vocab));
  return { tokens, scores: { data: scores, shape: [seen.length, vocab] } };
}

export async function handle(op, args) {
  if (op === "sample") return sample(args);
  if (op === "filter") return filter(args);
  if (op === "forward") return forward(args);
  if (op === "generate") return generate(args);
  throw new Error(`transformers_js: unknown op ${op}`);
}
