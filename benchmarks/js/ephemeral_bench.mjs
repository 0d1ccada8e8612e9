// Run compiled Aqua functions on js-client 0.9.0's ephemeral network (in-process peers, each with its own
// AquaVM in a marine worker) and report particles/s. Driven by benchmarks/peer_particles.py.
// stdin: {"jsClientDist": "<abs path of @fluencelabs/js-client/dist>", "functions": {name: {script, funcDef}},
//         "cases": [{"name", "function", "peers", "iterations", "warmup"}]}
// stdout: {"results": [{"name", "particles_per_s", "seconds", "iterations", "sample"}]}
import { pathToFileURL } from "node:url";
import path from "node:path";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const load = (dist, rel) => import(pathToFileURL(path.join(dist, rel)).href);

function argsFor(fnName, ids) {
  const target = ids[ids.length - 1];
  if (fnName === "one_call") return [target];
  return [ids[0], ids[1 % ids.length], ids[2 % ids.length]];
}

async function main() {
  const req = await readStdin();
  const { EphemeralNetwork, defaultConfig } = await load(req.jsClientDist, "ephemeral/network.js");
  const { EphemeralNetworkClient } = await load(req.jsClientDist, "ephemeral/client.js");
  const { loadMarineDeps } = await load(req.jsClientDist, "marine/loader.js");
  const { MarineBackgroundRunner } = await load(req.jsClientDist, "marine/worker/index.js");
  const { KeyPair } = await load(req.jsClientDist, "keypair/index.js");
  const { v5_callFunction } = await load(req.jsClientDist, "api.js");
  const { DEFAULT_CONFIG } = await load(req.jsClientDist, "jsPeer/FluencePeer.js");

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
    const keyPair = await KeyPair.randomEd25519();
    const client = new EphemeralNetworkClient(DEFAULT_CONFIG, keyPair, marine, network, ids[0]);
    await client.start();
    try {
      for (const c of cases) {
        const fn = req.functions[c.function];
        const args = argsFor(c.function, ids);
        let sample;
        for (let i = 0; i < c.warmup; i++) sample = await v5_callFunction([client, ...args], fn.funcDef, fn.script);
        const started = process.hrtime.bigint();
        for (let i = 0; i < c.iterations; i++) sample = await v5_callFunction([client, ...args], fn.funcDef, fn.script);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        results.push({ name: c.name, particles_per_s: c.iterations / seconds, seconds, iterations: c.iterations, sample });
      }
    } finally {
      await client.stop();
      await network.down();
    }
  }
  process.stdout.write(JSON.stringify({ results }));
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(2);
});
