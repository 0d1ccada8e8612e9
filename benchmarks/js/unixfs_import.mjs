// Reference UnixFS import with the JS importer (ipfs-unixfs-importer + blockstore-core's MemoryBlockstore).
//
//   node benchmarks/js/unixfs_import.mjs [--cid-version 0|1] [--raw-leaves] PATH
//
// PATH is a file or a directory (hidden entries skipped, as `ipfs add -r` does). Prints one JSON line per
// entry the importer yields ({path, cid, size}) and a final {"seconds": ...} line timing the import alone
// (not node's start-up). Kubo's `ipfs add` defaults are --cid-version 0 without --raw-leaves.
import { createReadStream, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core/memory'

const args = process.argv.slice(2)
let cidVersion = 0
let rawLeaves = null
let target = null
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--cid-version') cidVersion = Number(args[++i])
  else if (args[i] === '--raw-leaves') rawLeaves = true
  else target = args[i]
}
if (target === null) {
  console.error('usage: unixfs_import.mjs [--cid-version 0|1] [--raw-leaves] PATH')
  process.exit(2)
}
if (rawLeaves === null) rawLeaves = cidVersion === 1

function * entries (path, rel) {
  const info = statSync(path)
  if (info.isDirectory()) {
    yield { path: rel }
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue
      yield * entries(join(path, name), `${rel}/${name}`)
    }
  } else {
    yield { path: rel, content: createReadStream(path, { highWaterMark: 1 << 20 }) }
  }
}

const blockstore = new MemoryBlockstore()
const started = process.hrtime.bigint()
const out = []
for await (const entry of importer(entries(target, basename(target)), blockstore, {
  cidVersion,
  rawLeaves,
  leafType: 'file',
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  wrapWithDirectory: false
})) {
  out.push({ path: entry.path, cid: entry.cid.toString(), size: Number(entry.size) })
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9
for (const line of out) console.log(JSON.stringify(line))
console.log(JSON.stringify({ seconds }))
