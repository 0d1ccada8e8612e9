import { BigInt, Bytes, ethereum } from "@graphprotocol/graph-ts";
import { ProposalCreated, ReferendumClosed, VoteCast } from "../generated/Governance/Governance";
import { Delegate, Proposal, Referendum, Vote } from "../generated/schema";

function loadReferendum(event: ethereum.Event): Referendum {
  let id = event.address.toHexString();
  let referendum = Referendum.load(id);
  if (referendum == null) {
    referendum = new Referendum(id);
    referendum.proposalCount = 0;
    referendum.voteCount = 0;
    referendum.totalWeight = BigInt.zero();
  }
  return referendum;
}

function loadDelegate(address: Bytes): Delegate {
  let id = address.toHexString();
  let delegate = Delegate.load(id);
  if (delegate == null) {
    delegate = new Delegate(id);
    delegate.address = address;
    delegate.totalWeight = BigInt.zero();
    delegate.voteCount = 0;
  }
  return delegate;
}

export function handleProposalCreated(event: ProposalCreated): void {
  let referendum = loadReferendum(event);
  referendum.proposalCount = referendum.proposalCount + 1;
  referendum.save();

  let proposer = loadDelegate(event.params.proposer);
  proposer.save();

  let proposal = new Proposal(event.params.id.toString());
  proposal.number = event.params.id;
  proposal.referendum = referendum.id;
  proposal.proposer = proposer.id;
  proposal.description = event.params.description;
  proposal.endBlock = event.params.endBlock;
  proposal.forVotes = BigInt.zero();
  proposal.againstVotes = BigInt.zero();
  proposal.voteCount = 0;
  proposal.closed = false;
  proposal.createdAtBlock = event.block.number;
  proposal.createdTx = event.transaction.hash;
  proposal.save();
}

export function handleVoteCast(event: VoteCast): void {
  let proposal = Proposal.load(event.params.id.toString());
  if (proposal == null) {
    return;
  }
  let weight = event.params.weight;
  if (event.params.support) {
    proposal.forVotes = proposal.forVotes.plus(weight);
  } else {
    proposal.againstVotes = proposal.againstVotes.plus(weight);
  }
  proposal.voteCount = proposal.voteCount + 1;
  proposal.save();

  let voter = loadDelegate(event.params.voter);
  voter.totalWeight = voter.totalWeight.plus(weight);
  voter.voteCount = voter.voteCount + 1;
  voter.save();

  let referendum = loadReferendum(event);
  referendum.voteCount = referendum.voteCount + 1;
  referendum.totalWeight = referendum.totalWeight.plus(weight);
  referendum.save();

  let vote = new Vote(proposal.id + "-" + voter.id);
  vote.proposal = proposal.id;
  vote.voter = voter.id;
  vote.support = event.params.support;
  vote.weight = weight;
  vote.blockNumber = event.block.number;
  vote.timestamp = event.block.timestamp;
  vote.save();
}

export function handleReferendumClosed(event: ReferendumClosed): void {
  let proposal = Proposal.load(event.params.id.toString());
  if (proposal == null) {
    return;
  }
  proposal.closed = true;
  proposal.passed = event.params.passed;
  proposal.save();
}
