// The bridge's own test handler (tests/test_node_bridge.py): echoes its arguments, fails, waits, or
// names its process, so the protocol is checked without any engine installed.
export async function handle(op, args) {
  if (op === "echo") return args;
  if (op === "negate") return { data: args.x.data.map((v) => -v), shape: args.x.shape };
  if (op === "fail") throw new RangeError(`${args.message}\nsecond line`);
  if (op === "sleep") return new Promise((done) => setTimeout(() => done(args.ms), args.ms));
  if (op === "pid") return process.pid;
  throw new Error(`selftest: unknown op ${op}`);
}
