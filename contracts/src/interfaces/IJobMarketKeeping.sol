// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice JobMarket's per-job calls that the JobBatcher runs many at a time.
interface IJobMarketKeeping {
    function assign(uint256 jobId, address[] calldata providers) external;
    function finalize(uint256 jobId) external;
    function expire(uint256 jobId) external;
    function expireAssignment(uint256 jobId) external;
}
