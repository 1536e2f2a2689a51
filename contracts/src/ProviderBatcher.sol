// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title ProviderBatcher
 * @notice Code a provider's account delegates to (EIP-7702), so that one transaction the account sends to itself makes
 * many of its JobMarket calls: the commits and reveals of every job it finished in the last block, say. JobMarket sees
 * the provider as `msg.sender` of each call, exactly as if each were sent alone, so nothing about the market changes:
 * the batch saves the provider a transaction's base cost per call, and the chain a transaction to carry.
 *
 * Each call is tried on its own: one that reverts (its window closed, a reorg moved its job) is reported by
 * `CallFailed` with JobMarket's revert data, and the rest go on. `eth_call` of a batch returns which calls would
 * succeed and why the others wouldn't. A call that fails for want of gas fails the whole batch (`BatchOutOfGas`)
 * instead, so a gas estimate that is too low reverts rather than silently dropping a commit. A revert without data
 * counts as one: out of gas in a call JobMarket makes bubbles up so, and JobMarket's own reverts all name a custom error.
 *
 * Only the account itself may call (`NotSelf`): a transaction it signed and sent to its own address. No one else can
 * make it commit, reveal or anything else. The code keeps no storage, so it leaves the account's storage as it found
 * it, and it only ever calls JobMarket (a plain transfer to the account runs nothing).
 */
contract ProviderBatcher {
    /// @notice The most calls one batch takes.
    uint256 public constant MAX_BATCH = 256;

    address private immutable _jobMarket;

    /// @notice The call for job `jobId` (`selector` on JobMarket, at `index` in the batch) reverted with `reason`.
    event CallFailed(uint256 indexed jobId, uint256 index, bytes4 selector, bytes reason);

    /// @dev A required address is zero.
    error ZeroAddress();
    /// @dev Someone other than the delegating account called it.
    error NotSelf(address caller);
    /// @dev The batch is longer than `MAX_BATCH`.
    error BatchSize(uint256 size, uint256 max);
    /// @dev The call at `index` is shorter than a selector and a job id.
    error CallTooShort(uint256 index);
    /// @dev The call at `index` ran out of gas (or reverted without data): the batch needs more.
    error BatchOutOfGas(uint256 index);

    constructor(address jobMarket_) {
        if (jobMarket_ == address(0)) revert ZeroAddress();
        _jobMarket = jobMarket_;
    }

    /**
     * @notice Takes plain transfers, as the account did before it delegated: its gas money can be topped up, and an
     * empty transfer to itself (how the agent withdraws a transaction stuck in the pool) succeeds.
     */
    receive() external payable {}

    /// @notice The JobMarket every call goes to.
    function jobMarket() external view returns (address) {
        return _jobMarket;
    }

    /**
     * @notice Calls JobMarket with each of `calls` (ABI-encoded calls whose first argument is a job id: `commitResult`,
     * `revealResult`, …), each as the account itself.
     * @return ok whether each call succeeded; `reasons[i]` holds the revert data of each that didn't.
     * Requirements:
     * - the caller is the account itself (a transaction it sent to its own address);
     * - at most `MAX_BATCH` calls (none is allowed: it does nothing), each at least 36 bytes long.
     */
    function callMany(bytes[] calldata calls) external returns (bool[] memory ok, bytes[] memory reasons) {
        if (msg.sender != address(this)) revert NotSelf(msg.sender);
        if (calls.length > MAX_BATCH) revert BatchSize(calls.length, MAX_BATCH);
        ok = new bool[](calls.length);
        reasons = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            bytes calldata data = calls[i];
            if (data.length < 36) revert CallTooShort(i);
            uint256 gasBefore = gasleft();
            bytes memory returned;
            (ok[i], returned) = _jobMarket.call(data);
            if (ok[i]) continue;
            // Out of gas, here or in a call JobMarket made: the callee got at most 63/64 of the gas, so little more than
            // the last 64th left means it ran out.
            if (returned.length == 0 || gasleft() <= gasBefore / 63) revert BatchOutOfGas(i);
            reasons[i] = returned;
            emit CallFailed(uint256(bytes32(data[4:36])), i, bytes4(data[:4]), returned);
        }
    }
}
