// The JS importer, run the way its README runs it, as the baseline of benchmarks/ipfs_import.py.
//
//   node --expose-gc benchmarks/js/unixfs_import_bench.mjs --input PATH [--repeats 5] [--warmup 3] [--fs-dir DIR]
//   node --expose-gc benchmarks/js/unixfs_import_bench.mjs --input PATH --serve [--fs-dir DIR]
//
// One warm process: PATH is read once into one Buffer (not timed), then for each layout and store the
// importer runs `--warmup` times untimed (JIT, allocator) and `--repeats` times timed. Each run gets a fresh
// store: blockstore-core's MemoryBlockstore, and blockstore-fs's FsBlockstore under --fs-dir (emptied
// before each run, not timed). Options are the importer's defaults (CIDv1, raw leaves, 256 KiB chunks,
// balanced layout of 174 links) and, for CIDv0, `{ cidVersion: 0, rawLeaves: false }` (Kubo's `ipfs add`).
// A run is timed from the call of `importer` to its last entry, when every block has been put.
//
// Prints JSON lines: one {"config": ...} (versions, options, stores, machine and load), then one
// {"layout", "store", "cid", "seconds": [...]} per layout and store. With --serve it runs what stdin asks
// instead, one JSON line {"layout", "store", "dir"?} per run, and answers each with {"cid", "seconds", "cpu"}:
// the caller interleaves these runs with its own, so load from other processes falls on both sides alike.
// With "dir", the FsBlockstore goes there (a new directory the caller removes when it likes) instead of
// the emptied --fs-dir.
import { createHash } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, platform, arch } from 'node:os'
import { join } from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { MemoryBlockstore } from 'blockstore-core/memory'

const args = process.argv.slice(2)
const opt = { input: null, repeats: 5, warmup: 3, fsDir: null, serve: false }
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--input') opt.input = args[++i]
  else if (args[i] === '--repeats') opt.repeats = Number(args[++i])
  else if (args[i] === '--warmup') opt.warmup = Number(args[++i])
  else if (args[i] === '--fs-dir') opt.fsDir = args[++i]
  else if (args[i] === '--serve') opt.serve = true
  else {
    console.error(`unknown argument ${args[i]}`)
    process.exit(2)
  }
}
if (opt.input === null) {
  console.error('usage: unixfs_import_bench.mjs --input PATH [--repeats N] [--warmup N] [--fs-dir DIR]')
  process.exit(2)
}

function version (pkg) {
  try {
    return JSON.parse(readFileSync(join('node_modules', pkg, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

let FsBlockstore = null
try {
  ({ FsBlockstore } = await import('blockstore-fs'))
} catch {}

const LAYOUTS = {
  v0: { cidVersion: 0, rawLeaves: false },
  v1: {}
}

const stores = {
  memory: async () => new MemoryBlockstore()
}
if (FsBlockstore !== null && opt.fsDir !== null) {
  stores.fs = async (dir) => {
    if (dir == null) rmSync(opt.fsDir, { recursive: true, force: true })
    const store = new FsBlockstore(dir ?? opt.fsDir)
    await store.open()
    return store
  }
}

const content = readFileSync(opt.input)
console.log(JSON.stringify({
  config: {
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    'ipfs-unixfs-importer': version('ipfs-unixfs-importer'),
    'blockstore-core': version('blockstore-core'),
    'blockstore-fs': FsBlockstore === null ? null : version('blockstore-fs'),
    stores: Object.keys(stores).map(s => s === 'memory' ? 'MemoryBlockstore' : 'FsBlockstore (no fsync)'),
    options: LAYOUTS,
    input: { bytes: content.length, sha256: createHash('sha256').update(content).digest('hex'), from: 'one Buffer' },
    warmup: opt.serve ? 'chosen by the caller' : opt.warmup,
    repeats: opt.serve ? 'chosen by the caller' : opt.repeats,
    gcBetweenRuns: typeof globalThis.gc === 'function',
    machine: { platform: platform(), arch: arch(), cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() }
  }
}))

async function once (options, makeStore, dir) {
  const blockstore = await makeStore(dir)
  globalThis.gc?.()
  const cpu = process.cpuUsage()
  const started = process.hrtime.bigint()
  let last = null
  for await (const entry of importer([{ path: 'data.bin', content }], blockstore, options)) last = entry
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const used = process.cpuUsage(cpu) // microseconds, every thread of the process (libuv's included)
  return { seconds, cid: last.cid.toString(), cpu: { user: used.user / 1e6, system: used.system / 1e6 } }
}

if (opt.serve) {
  const { createInterface } = await import('node:readline')
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue
    const { layout, store, dir } = JSON.parse(line)
    const run = await once(LAYOUTS[layout], stores[store], dir)
    console.log(JSON.stringify({ layout, store, ...run, loadavg: loadavg()[0] }))
  }
} else {
  for (const [layout, options] of Object.entries(LAYOUTS)) {
    for (const [store, makeStore] of Object.entries(stores)) {
      for (let i = 0; i < opt.warmup; i++) await once(options, makeStore)
      const seconds = []
      let cid = null
      for (let i = 0; i < opt.repeats; i++) {
        const run = await once(options, makeStore)
        seconds.push(run.seconds)
        cid = run.cid
      }
      console.log(JSON.stringify({ layout, store, cid, seconds, loadavg: loadavg()[0] }))
    }
  }
}
if (opt.fsDir !== null) rmSync(opt.fsDir, { recursive: true, force: true })
