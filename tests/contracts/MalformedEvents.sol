// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// Test-only contract: emits Governance's ProposalCreated event (same name and parameter types, so the same
/// topic0) with no indexed parameter, so its logs carry no topics[1] where the pipeline reads the item id.
contract MalformedEvents {
    event ProposalCreated(uint256 id, address proposer, string description, uint256 endBlock);

    function emitMalformed(uint256 id, string calldata description) external {
        emit ProposalCreated(id, msg.sender, description, block.number + 100);
    }
}
