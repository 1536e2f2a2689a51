// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IProviderRegistryStake
 * @notice The ProviderRegistry view the EmissionController reads: the stake a provider has at risk.
 */
interface IProviderRegistryStake {
    /// @notice `stake − pendingUnstake` of `provider`: what a slash can still reach (0 when not registered).
    function stakeAtRisk(address provider) external view returns (uint256);
}
