// js-client 0.9.0's EphemeralNetwork run the usual way (its own ephemeral.spec.ts does the same): the network
// started once, one EphemeralNetworkClient connected to its relay, sequential `callAquaFunction` of the compiled
// AIR, no logging (DEBUG unset), warm-up calls excluded. Driven by benchmarks/_peer.py.
// stdin: {"jsClientDist": "<abs path of @fluencelabs/js-client/dist>", "functions": {name: {script, funcDef}},
//         "cases": [{"name", "function", "peers", "args": "last" | "round_robin", "iterations", "warmup"}],
//         "profileCalls": N}
// stdout: {"config": {...}, "results": [{"name", "latencies_ms", "seconds", "cpu_ms", "iterations", "sample",
//          "avm": {"calls", "invokes", "invoke_ms"}}]} or {"fatal"}
// "avm" comes from `profileCalls` extra calls after the timed ones, with every peer's AquaVM invoke wrapped in a
// timer (the timed calls run unwrapped): how many invokes a call takes and how long they take end to end (the
// marine worker round trip included).
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import path from "node:path";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const load = (dist, rel) => import(pathToFileURL(path.join(dist, rel)).href);
const packageVersion = (dir) => JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).version;

function argValues(kind, ids) {
  const target = ids[ids.length - 1];
  if (kind === "last") return [target];
  return [ids[0], ids[1 % ids.length], ids[2 % ids.length]];
}

function cpuMs(since) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function wrapInvokes(peers, counter) {
  const restore = [];
  for (const peer of peers) {
    const host = peer.marineHost;
    const original = host.callService.bind(host);
    host.callService = async (serviceId, fn, args, params) => {
      if (serviceId !== "avm" || fn !== "invoke") return original(serviceId, fn, args, params);
      const started = process.hrtime.bigint();
      try {
        return await original(serviceId, fn, args, params);
      } finally {
        counter.invokes += 1;
        counter.ns += process.hrtime.bigint() - started;
      }
    };
    restore.push(() => {
      host.callService = original;
    });
  }
  return () => restore.forEach((undo) => undo());
}

async function main() {
  const req = await readStdin();
  const dist = req.jsClientDist;
  const { EphemeralNetwork, defaultConfig } = await load(dist, "ephemeral/network.js");
  const { EphemeralNetworkClient } = await load(dist, "ephemeral/client.js");
  const { loadMarineDeps } = await load(dist, "marine/loader.js");
  const { MarineBackgroundRunner } = await load(dist, "marine/worker/index.js");
  const { KeyPair } = await load(dist, "keypair/index.js");
  const { callAquaFunction } = await load(dist, "compilerSupport/callFunction.js");
  const { DEFAULT_CONFIG } = await load(dist, "jsPeer/FluencePeer.js");
  const modules = path.resolve(dist, "..", "..");
  const config = {
    "js-client": packageVersion(path.resolve(dist, "..")),
    avm: packageVersion(path.join(modules, "avm")),
    "marine-worker": packageVersion(path.join(modules, "marine-worker")),
    node: process.version,
    network: "EphemeralNetwork (peers in this process, each with AquaVM in its own marine worker thread)",
    client: "EphemeralNetworkClient connected to the network's first peer (the relay)",
    api: "callAquaFunction({script, peer, args, fireAndForget: false}), sequential",
    ttl_ms: DEFAULT_CONFIG.defaultTtlMs,
    logging: process.env.DEBUG ? `DEBUG=${process.env.DEBUG}` : "off (DEBUG unset)",
    started: "once per peer count, before any call",
  };

  const results = [];
  const byPeers = new Map();
  for (const c of req.cases) {
    if (!byPeers.has(c.peers)) byPeers.set(c.peers, []);
    byPeers.get(c.peers).push(c);
  }
  for (const [peers, cases] of byPeers) {
    const network = new EphemeralNetwork({ peers: defaultConfig.peers.slice(0, peers) });
    await network.up();
    const ids = defaultConfig.peers.slice(0, peers).map((p) => p.peerId);
    const marine = new MarineBackgroundRunner(...(await loadMarineDeps("/")));
    const client = new EphemeralNetworkClient(DEFAULT_CONFIG, await KeyPair.randomEd25519(), marine, network, ids[0]);
    await client.start();
    try {
      for (const c of cases) {
        const fn = req.functions[c.function];
        const fields = fn.funcDef.arrow.domain.tag === "nil" ? {} : fn.funcDef.arrow.domain.fields;
        const values = argValues(c.args, ids);
        const args = Object.fromEntries(Object.keys(fields).map((name, i) => [name, values[i]]));
        const call = () => callAquaFunction({ script: fn.script, peer: client, args, config: {}, fireAndForget: false });
        let sample;
        for (let i = 0; i < c.warmup; i++) sample = await call();
        const latencies = [];
        const cpuStart = process.cpuUsage();
        const started = process.hrtime.bigint();
        for (let i = 0; i < c.iterations; i++) {
          const begin = process.hrtime.bigint();
          sample = await call();
          latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpu = cpuMs(cpuStart);
        const counter = { invokes: 0, ns: 0n };
        const profileCalls = req.profileCalls ?? 0;
        if (profileCalls > 0) {
          const undo = wrapInvokes([client, ...network.peers.values()], counter);
          try {
            for (let i = 0; i < profileCalls; i++) await call();
          } finally {
            undo();
          }
        }
        results.push({
          name: c.name,
          iterations: c.iterations,
          warmup: c.warmup,
          seconds,
          cpu_ms: cpu,
          latencies_ms: latencies,
          sample,
          avm: { calls: profileCalls, invokes: counter.invokes, invoke_ms: Number(counter.ns) / 1e6 },
        });
      }
    } finally {
      await client.stop();
      await network.down();
    }
  }
  process.stdout.write(JSON.stringify({ config, results }));
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(2);
});
