// Runs Marine modules in npm @fluencelabs/marine-js (Fluence's runtime compiled to wasm) for
// tests/integration (the `marine_js` fixture of tests/integration/conftest.py).
// usage: node marine_js_modules.mjs NODE_MODULES SPEC.json OUT.json
// SPEC: {"modules": [[name, path]], "calls": [[fn, args, call_parameters?]], "random": [hex, ...]}
// `random` (optional) feeds WASI random_get: each draw is served, in order, to one random_get call of the same
// length; later calls get the OS RNG. OUT: {"loaded": bool, "load_error": str, "results": [{ok}|{error}], "draws": [n],
// "logs": [what the modules logged, WASM_LOG=info]}
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomFillSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [nm, specPath, outPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const pkg = `${nm}/@fluencelabs/marine-js/dist`;

// marine-js's WASI (@wasmer/wasi) reads random bytes through its bindings object: serve the prepared draws first.
const require = createRequire(`${pkg}/snippets/`);
const bindings = require('@wasmer/wasi/lib/bindings/browser.js').default;
const draws = (spec.random ?? []).map((hex) => Buffer.from(hex, 'hex'));
const requested = [];
bindings.randomFillSync = (buffer, offset, size) => {
  requested.push(size);
  const next = draws.shift();
  if (next === undefined) return randomFillSync(buffer, offset, size);
  if (next.length !== size) throw new Error(`random_get asked for ${size} bytes, the test prepared ${next.length}`);
  buffer.set(next, offset);
  return buffer;
};

const { MarineService } = await import(pathToFileURL(`${pkg}/MarineService.js`).href);
const { defaultCallParameters } = await import(pathToFileURL(`${pkg}/types.js`).href);
const control = await WebAssembly.compile(readFileSync(`${pkg}/marine-js.wasm`));
const modules = {};
const modules_config = [];
for (const [name, path] of spec.modules) {
  modules[name] = new Uint8Array(readFileSync(path));
  const wasi = { envs: {}, preopened_files: new Set(), mapped_dirs: new Map() };
  modules_config.push({ import_name: name, config: { logger_enabled: true, logging_mask: 0, wasi } });
}
const out = { loaded: false, load_error: '', results: [], draws: requested, logs: [] };
try {
  const service = new MarineService(control, 'svc', (m) => out.logs.push(m), { modules_config }, modules,
                                    { WASM_LOG: 'info' });
  await service.init();
  out.loaded = true;
  for (const [fn, args, cp] of spec.calls) {
    try { out.results.push({ ok: service.call(fn, args, cp ?? defaultCallParameters) }); }
    catch (e) { out.results.push({ error: String((e && e.message) || e) }); }
  }
} catch (e) {
  out.load_error = String((e && e.message) || e);
}
writeFileSync(outPath, JSON.stringify(out));  // marine-js itself prints to stdout
