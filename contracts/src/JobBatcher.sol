// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IJobMarketKeeping} from "./interfaces/IJobMarketKeeping.sol";

/**
 * @title JobBatcher
 * @notice Runs many of JobMarket's per-job calls in one transaction: the matcher's `assign`s, and anyone's `finalize`,
 * `expire` and `expireAssignment`. The caller chooses how many (the length of its list, up to `MAX_BATCH`).
 *
 * Each call is tried on its own: one that reverts (its job moved on since the caller looked) is reported by
 * `CallFailed` with JobMarket's revert data, and the rest go on, so a batch is never undone by one stale job, and what
 * the chain already did is never done twice. `eth_call` of a batch returns which calls would succeed and why the
 * others wouldn't, so a caller can send only those.
 *
 * A call that fails for want of gas fails the whole batch (`BatchOutOfGas`) instead of being reported, so a gas
 * estimate that is too low reverts rather than silently skipping jobs. A revert without data counts as one: out of gas
 * in a call JobMarket makes bubbles up so, and JobMarket's own reverts all name a custom error.
 *
 * The batcher holds JobMarket's `MATCHER_ROLE` and passes it on only to its own `MATCHER_ROLE` holders. It holds no
 * tokens: JobMarket credits and refunds the jobs' parties as it would for a direct call.
 */
contract JobBatcher is AccessControl {
    /// @notice Role that may batch `assign` (the server's matcher key).
    bytes32 public constant MATCHER_ROLE = keccak256("MATCHER_ROLE");
    /// @notice The most calls one batch takes.
    uint256 public constant MAX_BATCH = 256;

    IJobMarketKeeping private immutable _jobMarket;

    /// @notice The call for job `jobId` (`selector` on JobMarket, at `index` in the batch) reverted with `reason`.
    event CallFailed(uint256 indexed jobId, uint256 index, bytes4 selector, bytes reason);

    /// @dev A required address is zero.
    error ZeroAddress();
    /// @dev The batch is empty or longer than `MAX_BATCH`.
    error BatchSize(uint256 size, uint256 max);
    /// @dev The jobs and provider lists differ in length.
    error LengthMismatch(uint256 jobs, uint256 providerLists);
    /// @dev The call at `index` ran out of gas (or reverted without data): the batch needs more.
    error BatchOutOfGas(uint256 index);

    constructor(IJobMarketKeeping jobMarket_, address admin) {
        if (address(jobMarket_) == address(0) || admin == address(0)) revert ZeroAddress();
        _jobMarket = jobMarket_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice `JobMarket.assign(jobIds[i], providers[i])` for each i.
     * @return ok whether each call succeeded; `reasons[i]` holds the revert data of each that didn't.
     * Requirements:
     * - the caller has `MATCHER_ROLE`, and this contract has JobMarket's;
     * - `jobIds` and `providers` are as long as each other, 1 to `MAX_BATCH`.
     */
    function assignMany(uint256[] calldata jobIds, address[][] calldata providers)
        external
        onlyRole(MATCHER_ROLE)
        returns (bool[] memory ok, bytes[] memory reasons)
    {
        if (providers.length != jobIds.length) revert LengthMismatch(jobIds.length, providers.length);
        _checkSize(jobIds.length);
        ok = new bool[](jobIds.length);
        reasons = new bytes[](jobIds.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            (ok[i], reasons[i]) =
                _try(i, jobIds[i], abi.encodeCall(IJobMarketKeeping.assign, (jobIds[i], providers[i])));
        }
    }

    /// @notice `JobMarket.finalize(jobId)` for each job; see `assignMany` for the results. Anyone may call it.
    function finalizeMany(uint256[] calldata jobIds) external returns (bool[] memory ok, bytes[] memory reasons) {
        return _each(IJobMarketKeeping.finalize.selector, jobIds);
    }

    /// @notice `JobMarket.expire(jobId)` for each job; see `assignMany` for the results. Anyone may call it.
    function expireMany(uint256[] calldata jobIds) external returns (bool[] memory ok, bytes[] memory reasons) {
        return _each(IJobMarketKeeping.expire.selector, jobIds);
    }

    /// @notice `JobMarket.expireAssignment(jobId)` for each job; see `assignMany` for the results. Anyone may call it.
    function expireAssignmentMany(uint256[] calldata jobIds)
        external
        returns (bool[] memory ok, bytes[] memory reasons)
    {
        return _each(IJobMarketKeeping.expireAssignment.selector, jobIds);
    }

    /// @notice The JobMarket this batcher calls.
    function jobMarket() external view returns (address) {
        return address(_jobMarket);
    }

    function _each(bytes4 selector, uint256[] calldata jobIds)
        private
        returns (bool[] memory ok, bytes[] memory reasons)
    {
        _checkSize(jobIds.length);
        ok = new bool[](jobIds.length);
        reasons = new bytes[](jobIds.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            (ok[i], reasons[i]) = _try(i, jobIds[i], abi.encodeWithSelector(selector, jobIds[i]));
        }
    }

    /// @dev Calls JobMarket with `data`; a revert is reported (`CallFailed`) unless it ran out of gas.
    function _try(uint256 index, uint256 jobId, bytes memory data) private returns (bool ok, bytes memory reason) {
        uint256 gasBefore = gasleft();
        (ok, reason) = address(_jobMarket).call(data);
        if (ok) return (true, "");
        // Out of gas, here or in a call JobMarket made (which bubbles up without data; JobMarket's own reverts all carry
        // a custom error): the callee got at most 63/64 of the gas, so little more than the last 64th left means it ran out.
        if (reason.length == 0 || gasleft() <= gasBefore / 63) revert BatchOutOfGas(index);
        emit CallFailed(jobId, index, bytes4(data), reason);
    }

    function _checkSize(uint256 size) private pure {
        if (size == 0 || size > MAX_BATCH) revert BatchSize(size, MAX_BATCH);
    }
}
