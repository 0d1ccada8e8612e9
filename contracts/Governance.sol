// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A minimal referendum contract modelled on the seed's referendum subgraph: proposals with a description
/// and an end block, weighted votes (uint256) for or against, and a close step that records the outcome.
contract Governance {
    struct Referendum {
        address proposer;
        string description;
        uint256 endBlock;
        uint256 forVotes;
        uint256 againstVotes;
        bool closed;
    }

    event ProposalCreated(uint256 indexed id, address indexed proposer, string description, uint256 endBlock);
    event VoteCast(uint256 indexed id, address indexed voter, bool support, uint256 weight);
    event ReferendumClosed(uint256 indexed id, uint256 forVotes, uint256 againstVotes, bool passed);

    uint256 public proposalCount;
    mapping(uint256 => Referendum) private referenda;
    mapping(uint256 => mapping(address => bool)) public hasVoted;

    function propose(string calldata description, uint256 durationBlocks) external returns (uint256 id) {
        require(durationBlocks > 0, "duration must be positive");
        id = ++proposalCount;
        Referendum storage r = referenda[id];
        r.proposer = msg.sender;
        r.description = description;
        r.endBlock = block.number + durationBlocks;
        emit ProposalCreated(id, msg.sender, description, r.endBlock);
    }

    function vote(uint256 id, bool support, uint256 weight) external {
        Referendum storage r = referenda[id];
        require(r.proposer != address(0), "no such proposal");
        require(!r.closed && block.number <= r.endBlock, "voting ended");
        require(!hasVoted[id][msg.sender], "already voted");
        require(weight > 0, "weight must be positive");
        hasVoted[id][msg.sender] = true;
        if (support) {
            r.forVotes += weight;
        } else {
            r.againstVotes += weight;
        }
        emit VoteCast(id, msg.sender, support, weight);
    }

    function close(uint256 id) external {
        Referendum storage r = referenda[id];
        require(r.proposer != address(0), "no such proposal");
        require(!r.closed, "already closed");
        r.closed = true;
        emit ReferendumClosed(id, r.forVotes, r.againstVotes, r.forVotes > r.againstVotes);
    }

    function getReferendum(uint256 id)
        external
        view
        returns (address proposer, uint256 endBlock, uint256 forVotes, uint256 againstVotes, bool closed)
    {
        Referendum storage r = referenda[id];
        return (r.proposer, r.endBlock, r.forVotes, r.againstVotes, r.closed);
    }
}
