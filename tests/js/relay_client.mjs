// js-client 0.9.0 with our peer daemon as its relay (over libp2p: ws, noise, yamux).
// stdin: {"relay": "/ip4/127.0.0.1/tcp/P/ws/p2p/12D3KooW...", "functions": {name: {script, funcDef}},
//         "signerServiceId": "..."?}
// stdout: {"relayPeerId", "clientA", "clientB", "identify", "signerAddress", "hello"} or {"fatal": "..."}
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

const { createClient, v5_callFunction, v5_registerService } = await import("@fluencelabs/js-client");

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const GREETER = {
  defaultServiceId: "greeter",
  functions: {
    tag: "labeledProduct",
    fields: {
      hello: {
        tag: "arrow",
        domain: { tag: "labeledProduct", fields: { name: { tag: "scalar", name: "string" } } },
        codomain: { tag: "unlabeledProduct", items: [{ tag: "scalar", name: "string" }] },
      },
    },
  },
};

const call = (client, fn, args) => v5_callFunction([client, ...args], fn.funcDef, fn.script);

async function main() {
  const req = await readStdin();
  const fns = req.functions;
  const options = { connectionOptions: { dialTimeoutMs: 10000 }, defaultTtlMs: 20000 };
  const a = await createClient(req.relay, options);
  const out = { relayPeerId: a.getRelayPeerId(), clientA: a.getPeerId() };
  try {
    const b = await createClient(req.relay, options);
    try {
      out.clientB = b.getPeerId();
      v5_registerService([b, "greeter", { hello: (name, ctx) => `hello ${name} from ${ctx.initPeerId}` }], GREETER);
      out.identify = await call(a, fns.identify_relay, []);
      if (req.signerServiceId) out.signerAddress = await call(a, fns.signer_address, [req.signerServiceId]);
      out.hello = await call(a, fns.hello_via, [b.getPeerId(), "js"]);
    } finally {
      await b.disconnect();
    }
  } finally {
    await a.disconnect();
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(2);
});
