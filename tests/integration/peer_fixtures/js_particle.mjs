// Cross-check the particle wire format with js-client 0.9.0's own code.
// argv[2]: js-client dist dir; stdin: {"ours": "<hex of our message>"}
// stdout: {"decoded": {...fields of our message as js-client reads it...}, "theirs": "<hex of a js-client message>",
//          "their_seed_b64": "..."}
import { pathToFileURL } from "node:url";
import path from "node:path";

const dist = process.argv[2];
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString());
const { Particle, serializeParticle } = await load("particle/Particle.js");
const { KeyPair } = await load("keypair/index.js");

const ours = Particle.deserialize(Uint8Array.from(Buffer.from(req.ours, "hex")));
const decoded = {
  id: ours.id, timestamp: ours.timestamp, ttl: ours.ttl, script: ours.script, init_peer_id: ours.initPeerId,
  signature: Buffer.from(ours.signature).toString("hex"), data: Buffer.from(ours.data).toString("hex"),
};
const kp = await KeyPair.randomEd25519();
const theirs = await Particle.createNew("(null)", kp.getPeerId(), 7000, kp, undefined, undefined, Uint8Array.from([1, 2, 3]));
process.stdout.write(JSON.stringify({ decoded, theirs: Buffer.from(serializeParticle(theirs)).toString("hex") }));
