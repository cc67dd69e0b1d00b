// The JSON-lines bridge between Python (spec/engines/node/bridge.py) and the npm engines: one request a
// line on stdin, {"id", "handler", "op", "args"}, one reply a line on stdout, {"id", "result"} or
// {"id", "error"}. A handler is handlers/<name>.mjs exporting `async function handle(op, args)`.
// Arrays travel as {"b64", "dtype", "shape"} (little-endian bytes, so -inf and NaN survive) and reach a
// handler as {data: <typed array>, shape}; a handler returns a typed array or {data, shape} the same way.
// Non-finite numbers elsewhere travel as {"$float": "inf" | "-inf" | "nan"}, which JSON cannot write.
// Requests run one at a time, in order. Anything an engine prints goes to stderr: stdout is the protocol's.

const write = process.stdout.write.bind(process.stdout);
for (const name of ["log", "info", "debug", "warn"]) console[name] = (...a) => console.error(...a);

const TYPES = { float64: Float64Array, float32: Float32Array, int32: Int32Array };
const handlers = new Map();

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value === null || typeof value !== "object") return value;
  if ("$float" in value) return { inf: Infinity, "-inf": -Infinity, nan: NaN }[value.$float];
  if ("b64" in value && "dtype" in value) {
    const bytes = Buffer.from(value.b64, "base64");
    const copy = new Uint8Array(bytes).buffer; // aligned: a Buffer may sit at any offset of a shared pool
    return { data: new TYPES[value.dtype](copy), shape: value.shape };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
}

function dtypeOf(array) {
  for (const [name, type] of Object.entries(TYPES)) if (array instanceof type) return name;
  return null;
}

function encodeArray(data, shape) {
  const dtype = dtypeOf(data);
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
  return { b64, dtype, shape };
}

function encode(value) {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return { $float: Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf" };
  }
  if (typeof value === "bigint") return Number(value);
  if (ArrayBuffer.isView(value) && dtypeOf(value)) return encodeArray(value, [value.length]);
  if (ArrayBuffer.isView(value)) return encode(Array.from(value, Number));
  if (Array.isArray(value)) return value.map(encode);
  if (value === null || typeof value !== "object") return value;
  if (ArrayBuffer.isView(value.data) && dtypeOf(value.data) && Array.isArray(value.shape)) {
    return encodeArray(value.data, value.shape);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
}

async function handler(name) {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bad handler name ${JSON.stringify(name)}`);
  if (!handlers.has(name)) {
    try {
      handlers.set(name, await import(`./handlers/${name}.mjs`));
    } catch (e) {
      const missing = e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).startsWith("Cannot find package");
      if (missing) throw new Error(`${e.message} (run \`python -m spec.engines.node install\`)`);
      throw e;
    }
  }
  return handlers.get(name);
}

function oneLine(error) {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, " ").trim();
}

async function serve(line) {
  let id = null;
  try {
    const request = JSON.parse(line);
    id = request.id ?? null;
    const module = await handler(request.handler);
    const result = await module.handle(request.op, decode(request.args ?? {}));
    write(JSON.stringify({ id, result: encode(result ?? null) }) + "\n");
  } catch (e) {
    write(JSON.stringify({ id, error: oneLine(e) }) + "\n");
  }
}

// Lines are cut from the raw bytes (readline's string building costs ~0.1 s on a 5 MB request).
let queue = Promise.resolve();
let pending = [];
process.stdin.on("data", (chunk) => {
  let start = 0;
  for (let end = chunk.indexOf(10); end !== -1; start = end + 1, end = chunk.indexOf(10, start)) {
    const line = Buffer.concat([...pending, chunk.subarray(start, end)]).toString("utf8");
    pending = [];
    if (line.trim()) queue = queue.then(() => serve(line));
  }
  if (start < chunk.length) pending.push(chunk.subarray(start));
});
process.stdin.on("end", () => queue.then(() => process.exit(0)));
