// Compile Aqua files to AIR with @fluencelabs/aqua-api; run by fluence_dao.aqua with `node`.
// stdin: {"apiPath": "<abs path of aqua-api/index.js>", "files": [{"filePath", "imports", "constants"}]}
// stdout: one JSON document {"results": [{"filePath", "errors", "warnings", "functions": {name: {script, funcDef}},
//          "services": {...}}]}; a crash of the compiler itself is reported as {"fatal": "..."} with exit code 2.
import { pathToFileURL } from "node:url";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  const request = JSON.parse(await readStdin());
  const api = await import(pathToFileURL(request.apiPath).href);
  const results = [];
  for (const file of request.files) {
    try {
      const res = await api.compileFromPath({
        filePath: file.filePath,
        imports: file.imports,
        constants: file.constants ?? [],
        targetType: "air",
        logLevel: "off",
      });
      const functions = {};
      for (const [name, fn] of Object.entries(res.functions ?? {})) {
        functions[name] = { script: fn.script, funcDef: fn.funcDef };
      }
      results.push({
        filePath: file.filePath,
        errors: res.errors ?? [],
        warnings: res.warnings ?? [],
        functions,
        services: res.services ?? {},
      });
    } catch (err) {
      results.push({ filePath: file.filePath, errors: [String(err && err.message ? err.message : err)], warnings: [], functions: {}, services: {} });
    }
  }
  process.stdout.write(JSON.stringify({ results }));
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(2);
});
