// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What other contracts read of JobMarket.
interface IJobMarket {
    /// @notice A job's requester and its status (JobMarket.Status as uint8; 0 for an unknown job).
    function requesterAndStatusOf(uint256 jobId) external view returns (address requester, uint8 status);

    /// @notice The EmissionController that records the market's jobs (zero when recording is disabled).
    function emissionController() external view returns (address);
}
