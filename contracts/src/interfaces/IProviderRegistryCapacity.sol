// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IProviderRegistryCapacity
 * @notice The two capacity views of ProviderRegistry that the EmissionController reads.
 */
interface IProviderRegistryCapacity {
    /// @notice `gpuCount × benchmarkScore` of `provider`: inference units it serves per epoch.
    function capacityOf(address provider) external view returns (uint256);

    /// @notice Sum of `capacityOf` over registered, unpaused providers with at least the minimum stake.
    function totalCapacity() external view returns (uint256);
}
