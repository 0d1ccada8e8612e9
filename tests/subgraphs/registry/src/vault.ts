import { BigDecimal, BigInt, dataSource } from "@graphprotocol/graph-ts";
import { Deposited, Vault as VaultContract } from "../generated/templates/Vault/Vault";
import { Deposit, Vault } from "../generated/schema";

export function handleDeposited(event: Deposited): void {
  let context = dataSource.context();
  let decimals = context.getI32("decimals");
  let vault = Vault.load(dataSource.address().toHexString())!;

  let scale = BigInt.fromI32(10).pow(decimals as u8).toBigDecimal();
  let deposit = new Deposit(event.transaction.hash.toHexString() + "-" + event.logIndex.toString());
  deposit.vault = vault.id;
  deposit.from = event.params.from;
  deposit.amount = event.params.amount;
  deposit.amountDecimal = event.params.amount.toBigDecimal().div(scale);
  deposit.third = deposit.amountDecimal.div(BigDecimal.fromString("3"));
  deposit.memo = event.params.memo;
  deposit.contextName = context.getString("name");
  deposit.blockNumber = event.block.number;
  let receipt = event.receipt!;
  deposit.gasUsed = receipt.gasUsed;
  deposit.receiptStatus = receipt.status;
  deposit.receiptLogs = receipt.logs.length;
  deposit.receiptTopic0 = receipt.logs[0].topics[0];
  deposit.save();

  vault.totalRaw = vault.totalRaw.plus(event.params.amount);
  vault.total = vault.total.plus(deposit.amountDecimal);
  vault.onChainTotal = VaultContract.bind(dataSource.address()).total();
  vault.loadedDeposits = vault.deposits.load().length;
  vault.save();
}
