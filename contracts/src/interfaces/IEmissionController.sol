// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IEmissionController
 * @notice The part of the EmissionController that JobMarket, keepers and providers call.
 * The law it implements is in ECONOMICS.md; the contract is `EmissionController.sol`.
 */
interface IEmissionController {
    /**
     * @notice Records a settled job's fee for `provider` in the current epoch.
     * Requirements:
     * - the caller is the JobMarket.
     */
    function recordJob(address provider, uint256 fee, uint256 units) external;

    /**
     * @notice Records a settled challenge job of `provider`: passed or failed, and the throughput it showed.
     * Requirements:
     * - the caller is the ChallengeLedger.
     */
    function recordChallenge(address provider, bool passed, uint64 unitsPerHour) external;

    /// @notice Closes every ended, unclosed epoch (bounded per call). Never reverts when there is nothing to close.
    function advanceEpoch() external;

    /// @notice κ (WAD): the usage reward per unit of verified fee, which the JobMarket's take must exceed.
    function kappa() external view returns (uint256);

    /// @notice Mints the caller's usage and availability reward for a closed `epoch`.
    function claim(uint256 epoch) external;
}
