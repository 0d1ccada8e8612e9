// Compile Solidity sources with the pinned npm `solc` (solcjs) and write {abi, bytecode} JSON per contract.
// Usage: node contracts/compile.mjs OUT_DIR FILE.sol [FILE.sol ...]
// Prints one JSON line: {"written": [paths]}. Errors go to stderr with a non-zero exit.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(resolve(process.cwd(), "package.json"));
const solc = require("solc");

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  process.stderr.write("usage: node compile.mjs OUT_DIR FILE.sol [FILE.sol ...]\n");
  process.exit(2);
}
const sources = {};
for (const file of files) sources[basename(file)] = { content: readFileSync(file, "utf8") };
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) process.stderr.write(e.formattedMessage + "\n");
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
const written = [];
for (const [source, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const path = join(outDir, `${name}.json`);
    writeFileSync(path, JSON.stringify({ contractName: name, source, compiler: solc.version(), abi: c.abi, bytecode: "0x" + c.evm.bytecode.object }, null, 2));
    written.push(path);
  }
}
process.stdout.write(JSON.stringify({ written }) + "\n");
