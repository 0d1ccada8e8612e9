import { BigDecimal, BigInt, ByteArray, Bytes, DataSourceContext, crypto, dataSource, ethereum, ipfs, log } from "@graphprotocol/graph-ts";
import { Fault, VaultCreated } from "../generated/Registry/Registry";
import { Vault as VaultTemplate } from "../generated/templates";
import { BlockTick, Vault } from "../generated/schema";

export function handleVaultCreated(event: VaultCreated): void {
  let name = event.params.name;
  let vault = new Vault(event.params.vault.toHexString());
  vault.name = name;
  vault.nameHash = Bytes.fromByteArray(crypto.keccak256(ByteArray.fromUTF8(name)));
  let tuple = new ethereum.Tuple();
  tuple.push(ethereum.Value.fromString(name));
  tuple.push(ethereum.Value.fromI32(event.params.decimals));
  let encoded = ethereum.encode(ethereum.Value.fromTuple(tuple))!;
  vault.encoded = encoded;
  let decoded = ethereum.decode("(string,uint8)", encoded)!;
  vault.decodedName = decoded.toTuple()[0].toString();
  vault.decimals = event.params.decimals;
  vault.network = dataSource.network();
  vault.totalRaw = BigInt.zero();
  vault.total = BigDecimal.zero();
  vault.onChainTotal = BigInt.zero();
  vault.loadedDeposits = 0;
  vault.save();

  let context = new DataSourceContext();
  context.setString("name", name);
  context.setI32("decimals", event.params.decimals);
  VaultTemplate.createWithContext(event.params.vault, context);
  log.info("vault {} created", [name]);
}

function tick(kind: string, block: ethereum.Block): void {
  let t = new BlockTick(kind + "-" + block.number.toString());
  t.kind = kind;
  t.number = block.number;
  t.hash = block.hash;
  t.timestamp = block.timestamp;
  t.save();
}

export function handleStart(block: ethereum.Block): void {
  tick("once", block);
}

export function handlePoll(block: ethereum.Block): void {
  tick("polling", block);
}

export function handleFault(event: Fault): void {
  let kind = event.params.kind.toI32();
  if (kind == 1) {
    // ipfs.cat is not implemented by the runner: indexing must stop naming it.
    let data = ipfs.cat("QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u");
    if (data !== null) {
      log.info("got {}", [data.toHexString()]);
    }
  } else if (kind == 3) {
    // Never returns: the runner's handler timeout must interrupt it.
    let spins: i64 = 0;
    while (kind == 3) {
      spins += 1;
    }
    log.info("spun {} times", [spins.toString()]);
  } else {
    // A wasm trap (integer division by zero) when kind == 2.
    let divisor = kind - 2;
    let quotient = 100 / divisor;
    log.info("quotient {}", [quotient.toString()]);
  }
}
