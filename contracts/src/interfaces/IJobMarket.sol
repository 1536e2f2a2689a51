// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What other contracts read of JobMarket.
interface IJobMarket {
    /// @notice A job's requester and its status (JobMarket.Status as uint8; 0 for an unknown job).
    function requesterAndStatusOf(uint256 jobId) external view returns (address requester, uint8 status);

    /// @notice The ProviderRegistry that holds the providers' stakes.
    function registry() external view returns (address);

    /// @notice `provider`'s slot in `jobId` (JobMarket.Slot's fields; the slot outlives the job's settlement).
    function getSlot(uint256 jobId, address provider)
        external
        view
        returns (
            bool assigned,
            uint256 ask,
            uint256 collateral,
            bytes32 commitment,
            bool revealed,
            bytes32 fingerprint,
            bytes32 outputHash
        );

    /// @notice `jobId`'s audit (JobMarket.Audit's fields; `kind` 0 when fresh providers never re-ran it).
    function getAudit(uint256 jobId) external view returns (uint8 kind, uint64 revealBlock, address challenger, uint256 bond);

    /// @notice The EmissionController that records the market's jobs (zero when recording is disabled).
    function emissionController() external view returns (address);
}
