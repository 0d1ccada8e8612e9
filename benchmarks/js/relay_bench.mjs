// Particles/s of js-client 0.9.0 with a real relay over libp2p (our peer daemon), run as its README does:
// `createClient(relay)` once, then sequential `callAquaFunction` of the compiled AIR, no logging (DEBUG unset),
// warm-up excluded. Driven by benchmarks/libp2p_js_client.py.
// stdin: {"relay": "/ip4/127.0.0.1/tcp/P/ws/p2p/12D3KooW...", "functions": {name: {script, funcDef}},
//         "cases": [{"name", "function", "args", "iterations", "warmup"}], "relayPid", "ticksPerSecond"}
// stdout: {"config", "relayPeerId", "results": [{"name", "latencies_ms", "seconds", "cpu_ms", "relay_cpu_ms",
//          "iterations", "sample"}]} or {"fatal"}
// relay_cpu_ms: CPU the relay's process (relayPid, on this machine) used during the timed calls.
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

const { createClient, callAquaFunction } = await import("@fluencelabs/js-client");
const { readFileSync } = await import("node:fs");

// CPU seconds the relay's process used so far (utime + stime of /proc/PID/stat), or 0 without a pid
function relayCpuS(pid, ticksPerSecond) {
  if (!pid) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(")").pop().trim().split(/\s+/);
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  const req = await readStdin();
  const options = { connectionOptions: { dialTimeoutMs: 10000 }, defaultTtlMs: 60000 };
  const client = await createClient(req.relay, options);
  const config = {
    node: process.version,
    client: "createClient(relay) once: libp2p websocket, noise, yamux to the relay",
    api: "callAquaFunction({script, peer, args, fireAndForget: false}), sequential",
    ttl_ms: options.defaultTtlMs,
    logging: process.env.DEBUG ? `DEBUG=${process.env.DEBUG}` : "off (DEBUG unset)",
  };
  const results = [];
  try {
    for (const c of req.cases) {
      const fn = req.functions[c.function];
      const fields = fn.funcDef.arrow.domain.tag === "nil" ? {} : fn.funcDef.arrow.domain.fields;
      const args = Object.fromEntries(Object.keys(fields).map((name, i) => [name, c.args[i]]));
      const call = () => callAquaFunction({ script: fn.script, peer: client, args, config: {}, fireAndForget: false });
      let sample;
      for (let i = 0; i < c.warmup; i++) sample = await call();
      const latencies = [];
      const cpuStart = process.cpuUsage();
      const relayStart = relayCpuS(req.relayPid, req.ticksPerSecond);
      const started = process.hrtime.bigint();
      for (let i = 0; i < c.iterations; i++) {
        const begin = process.hrtime.bigint();
        sample = await call();
        latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const used = process.cpuUsage(cpuStart);
      const relayCpuMs = (relayCpuS(req.relayPid, req.ticksPerSecond) - relayStart) * 1000;
      results.push({
        name: c.name,
        iterations: c.iterations,
        seconds,
        cpu_ms: (used.user + used.system) / 1000,
        relay_cpu_ms: relayCpuMs,
        latencies_ms: latencies,
        sample,
      });
    }
  } finally {
    await client.disconnect();
  }
  process.stdout.write(JSON.stringify({ config, relayPeerId: client.getRelayPeerId(), results }));
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(2);
});
