// Particles/s of js-client 0.9.0 with a real relay over libp2p (our peer daemon). Driven by
// benchmarks/libp2p_js_client.py.
// stdin: {"relay": "/ip4/127.0.0.1/tcp/P/ws/p2p/12D3KooW...", "functions": {name: {script, funcDef}},
//         "cases": [{"name", "function", "args", "iterations", "warmup"}]}
// stdout: {"relayPeerId", "results": [{"name", "particles_per_s", "seconds", "iterations", "sample"}]} or {"fatal"}
// Node 20: js-client's transitive mortice 3.3 / it-queue 1.1 call Promise.withResolvers (Node 22); polyfill it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { createClient, v5_callFunction } = await import("@fluencelabs/js-client");

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  const req = await readStdin();
  const client = await createClient(req.relay, { connectionOptions: { dialTimeoutMs: 10000 }, defaultTtlMs: 60000 });
  const results = [];
  try {
    for (const c of req.cases) {
      const fn = req.functions[c.function];
      const call = () => v5_callFunction([client, ...c.args], fn.funcDef, fn.script);
      let sample;
      for (let i = 0; i < c.warmup; i++) sample = await call();
      const started = process.hrtime.bigint();
      for (let i = 0; i < c.iterations; i++) sample = await call();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      results.push({ name: c.name, particles_per_s: c.iterations / seconds, seconds, iterations: c.iterations, sample });
    }
  } finally {
    await client.disconnect();
  }
  process.stdout.write(JSON.stringify({ relayPeerId: client.getRelayPeerId(), results }));
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(2);
});
