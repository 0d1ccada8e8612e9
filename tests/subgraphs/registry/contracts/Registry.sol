// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A vault created by the Registry; the test subgraph indexes it through a data source template.
contract Vault {
    string public name;
    uint256 public total;

    event Deposited(address indexed from, uint256 amount, string memo);

    constructor(string memory name_) {
        name = name_;
    }

    function deposit(uint256 amount, string calldata memo) external {
        total += amount;
        emit Deposited(msg.sender, amount, memo);
    }
}

/// Creates vaults; `fault` makes the test mapping call an unsupported host function (1) or trap (2).
contract Registry {
    event VaultCreated(address indexed vault, string name, uint8 decimals);
    event Fault(uint256 kind);

    function createVault(string calldata name, uint8 decimals) external returns (address) {
        Vault vault = new Vault(name);
        emit VaultCreated(address(vault), name, decimals);
        return address(vault);
    }

    function fault(uint256 kind) external {
        emit Fault(kind);
    }
}
