// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/**
 * @title ProviderRegistry
 * @notice Providers register their hardware and ask, stake TSR, and unstake through an unbonding
 * period. The JobMarket locks part of a provider's stake as collateral per job, unlocks it, or
 * slashes it (part to a beneficiary, the rest burned). A provider the JobMarket slashed in a
 * known-answer challenge job loses the rest of its stake too, when the ChallengeLedger records the
 * failure (`slashStake`): the availability reward it earned rests on that stake.
 *
 * Invariant: for every provider, `locked + pendingUnstake <= stake`, and the registry's token
 * balance equals the sum of all stakes (pending unstakes are still part of the stake).
 */
contract ProviderRegistry is IProviderRegistry, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Basis-point denominator: 10 000 bps = 100%.
    uint256 public constant BPS = 10_000;

    IERC20 private immutable _token;
    uint256 private immutable _minStake;
    uint64 private immutable _unbondingPeriod;

    address private _jobMarket;
    address private _challengeLedger;
    mapping(address provider => Provider) private _providers;
    mapping(address provider => bytes) private _encryptionPubKeys;
    mapping(address provider => mapping(uint256 jobId => uint256)) private _jobLocks;
    /// @dev The capacity each provider currently contributes to `_totalCapacity` (0 when not active).
    mapping(address provider => uint256) private _countedCapacity;
    uint256 private _totalCapacity;
    /// @dev Jobs in which the JobMarket slashed a provider's collateral, until `slashStake` acts on one.
    mapping(address provider => mapping(uint256 jobId => bool)) private _faulted;

    modifier onlyJobMarket() {
        if (msg.sender != _jobMarket) revert NotJobMarket(msg.sender);
        _;
    }

    modifier onlyRegistered() {
        if (!_providers[msg.sender].registered) revert NotRegistered(msg.sender);
        _;
    }

    /**
     * @param token_ the TSR token (burnable).
     * @param admin owner, allowed to set the JobMarket once.
     * @param minStake_ stake (net of pending unstakes) a provider needs to be eligible, in TSR wei.
     * @param unbondingPeriod_ seconds between `requestUnstake` and `withdraw`.
     */
    constructor(address token_, address admin, uint256 minStake_, uint64 unbondingPeriod_) Ownable(admin) {
        if (token_ == address(0)) revert ZeroAddress();
        _token = IERC20(token_);
        _minStake = minStake_;
        _unbondingPeriod = unbondingPeriod_;
    }

    /**
     * @notice Sets the JobMarket, the only caller of `lock`, `unlock` and `slash`.
     * Requirements:
     * - the caller is the admin;
     * - it has not been set before;
     * - `jobMarket_` is not the zero address.
     */
    function setJobMarket(address jobMarket_) external onlyOwner {
        if (_jobMarket != address(0)) revert JobMarketAlreadySet();
        if (jobMarket_ == address(0)) revert ZeroAddress();
        _jobMarket = jobMarket_;
        emit JobMarketSet(jobMarket_);
    }

    /**
     * @notice Sets the ChallengeLedger, the only caller of `slashStake`.
     * Requirements:
     * - the caller is the admin;
     * - it has not been set before;
     * - `challengeLedger_` is not the zero address.
     */
    function setChallengeLedger(address challengeLedger_) external onlyOwner {
        if (_challengeLedger != address(0)) revert ChallengeLedgerAlreadySet();
        if (challengeLedger_ == address(0)) revert ZeroAddress();
        _challengeLedger = challengeLedger_;
        emit ChallengeLedgerSet(challengeLedger_);
    }

    /**
     * @notice Registers the caller as a provider.
     * Requirements:
     * - the caller is not registered;
     * - `pricePerUnit > 0`.
     */
    function register(Hardware calldata hw, uint256 pricePerUnit, bytes32 region, bytes calldata encryptionPubKey)
        external
    {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        if (pricePerUnit == 0) revert InvalidPrice();
        p.registered = true;
        p.hardware = hw;
        p.pricePerUnit = pricePerUnit;
        p.region = region;
        _encryptionPubKeys[msg.sender] = encryptionPubKey;
        _recount(msg.sender);
        emit ProviderRegistered(msg.sender, hw, pricePerUnit, region, encryptionPubKey);
    }

    /**
     * @notice Updates the caller's hardware, ask and region. Jobs already assigned keep their ask.
     * Requirements:
     * - the caller is registered;
     * - `pricePerUnit > 0`.
     */
    function update(Hardware calldata hw, uint256 pricePerUnit, bytes32 region) external onlyRegistered {
        if (pricePerUnit == 0) revert InvalidPrice();
        Provider storage p = _providers[msg.sender];
        p.hardware = hw;
        p.pricePerUnit = pricePerUnit;
        p.region = region;
        _recount(msg.sender);
        emit ProviderUpdated(msg.sender, hw, pricePerUnit, region);
    }

    /**
     * @notice Stops new assignments to the caller. Jobs already assigned are unaffected.
     * Requirements:
     * - the caller is registered and not paused.
     */
    function pause() external onlyRegistered {
        Provider storage p = _providers[msg.sender];
        if (p.paused) revert AlreadyInState(msg.sender, true);
        p.paused = true;
        _recount(msg.sender);
        emit ProviderPaused(msg.sender);
    }

    /**
     * @notice Resumes assignments to the caller.
     * Requirements:
     * - the caller is registered and paused.
     */
    function unpause() external onlyRegistered {
        Provider storage p = _providers[msg.sender];
        if (!p.paused) revert AlreadyInState(msg.sender, false);
        p.paused = false;
        _recount(msg.sender);
        emit ProviderUnpaused(msg.sender);
    }

    /**
     * @notice Adds `amount` TSR (pulled with `transferFrom`) to the caller's stake.
     * Requirements:
     * - the caller is registered;
     * - `amount > 0`;
     * - the caller approved this contract for `amount`.
     */
    function stake(uint256 amount) external nonReentrant onlyRegistered {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _providers[msg.sender];
        p.stake += amount;
        _recount(msg.sender);
        emit Staked(msg.sender, amount, p.stake);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /**
     * @notice Starts unbonding `amount` of the caller's free stake. A new request adds to the pending
     * amount and restarts the clock for all of it.
     * Requirements:
     * - `amount > 0`;
     * - `amount <= stake - locked - pendingUnstake`.
     */
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 available = freeStake(msg.sender);
        if (amount > available) revert InsufficientFreeStake(msg.sender, amount, available);
        Provider storage p = _providers[msg.sender];
        p.pendingUnstake += amount;
        uint64 availableAt = uint64(block.timestamp) + _unbondingPeriod;
        p.unstakeAvailableAt = availableAt;
        _recount(msg.sender);
        emit UnstakeRequested(msg.sender, amount, availableAt);
    }

    /**
     * @notice Pays out the caller's pending unstake once its unbonding period has passed.
     * Requirements:
     * - something is pending;
     * - `block.timestamp >= unstakeAvailableAt`.
     */
    function withdraw() external nonReentrant {
        Provider storage p = _providers[msg.sender];
        uint256 amount = p.pendingUnstake;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < p.unstakeAvailableAt) revert UnbondingNotElapsed(p.unstakeAvailableAt);
        p.pendingUnstake = 0;
        p.stake -= amount;
        p.unstakeAvailableAt = 0;
        _recount(msg.sender);
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /**
     * @notice Locks `amount` of `provider`'s free stake as collateral for `jobId`.
     * Requirements:
     * - the caller is the JobMarket;
     * - `amount <= freeStake(provider)`.
     */
    function lock(address provider, uint256 jobId, uint256 amount) external onlyJobMarket {
        uint256 available = freeStake(provider);
        if (amount > available) revert InsufficientFreeStake(provider, amount, available);
        _providers[provider].locked += amount;
        _jobLocks[provider][jobId] += amount;
        emit CollateralLocked(provider, jobId, amount);
    }

    /**
     * @notice Releases `amount` of the collateral `provider` locked for `jobId`.
     * Requirements:
     * - the caller is the JobMarket;
     * - `amount` is at most what is locked for `jobId`.
     */
    function unlock(address provider, uint256 jobId, uint256 amount) external onlyJobMarket {
        uint256 lockedForJob = _jobLocks[provider][jobId];
        if (amount > lockedForJob) revert InsufficientLocked(provider, jobId, amount, lockedForJob);
        _jobLocks[provider][jobId] = lockedForJob - amount;
        _providers[provider].locked -= amount;
        emit CollateralUnlocked(provider, jobId, amount);
    }

    /**
     * @notice Takes `amount` of the collateral `provider` locked for `jobId` (and so of its stake),
     * transfers `amount × beneficiaryBps / BPS` (rounded down) to `beneficiary` and burns the rest.
     * Requirements:
     * - the caller is the JobMarket;
     * - `amount` is at most what is locked for `jobId`;
     * - `beneficiaryBps <= BPS`; `beneficiary` is not zero when its share is positive.
     * @return toBeneficiary the amount transferred to `beneficiary`.
     */
    function slash(address provider, uint256 jobId, uint256 amount, address beneficiary, uint256 beneficiaryBps)
        external
        onlyJobMarket
        nonReentrant
        returns (uint256 toBeneficiary)
    {
        if (beneficiaryBps > BPS) revert InvalidBps(beneficiaryBps);
        uint256 lockedForJob = _jobLocks[provider][jobId];
        if (amount > lockedForJob) revert InsufficientLocked(provider, jobId, amount, lockedForJob);
        toBeneficiary = amount * beneficiaryBps / BPS;
        if (toBeneficiary > 0 && beneficiary == address(0)) revert ZeroAddress();
        uint256 burned = amount - toBeneficiary;

        Provider storage p = _providers[provider];
        _jobLocks[provider][jobId] = lockedForJob - amount;
        p.locked -= amount;
        p.stake -= amount;
        _faulted[provider][jobId] = true;
        _recount(provider);
        emit Slashed(provider, jobId, amount, beneficiary, toBeneficiary, burned);

        if (toBeneficiary > 0) _token.safeTransfer(beneficiary, toBeneficiary);
        if (burned > 0) ERC20Burnable(address(_token)).burn(burned);
    }

    /**
     * @notice Burns all of `provider`'s stake beyond the collateral it has locked for live jobs, its pending unstake
     * included, and returns the amount: the ChallengeLedger's penalty for a known-answer challenge `jobId` that the
     * JobMarket slashed the provider in. Nobody is paid from it, so nobody gains by framing a provider; and the
     * JobMarket's verdict, not the ledger's caller, decides that there was a fault. Once per provider and job.
     * Requirements:
     * - the caller is the ChallengeLedger;
     * - the JobMarket slashed `provider` in `jobId`, and this was not called for that pair before.
     */
    function slashStake(address provider, uint256 jobId) external nonReentrant returns (uint256 amount) {
        if (msg.sender != _challengeLedger) revert NotChallengeLedger(msg.sender);
        if (!_faulted[provider][jobId]) revert NotFaulted(provider, jobId);
        delete _faulted[provider][jobId];
        Provider storage p = _providers[provider];
        amount = p.stake - p.locked;
        p.stake = p.locked;
        p.pendingUnstake = 0;
        p.unstakeAvailableAt = 0;
        _recount(provider);
        emit StakeSlashed(provider, jobId, amount);
        if (amount > 0) ERC20Burnable(address(_token)).burn(amount);
    }

    /// @notice The provider's record (all zero when unknown).
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @notice `stake − locked − pendingUnstake`: what can be locked or unstaked now.
    function freeStake(address provider) public view returns (uint256) {
        Provider storage p = _providers[provider];
        return p.stake - p.locked - p.pendingUnstake;
    }

    /// @notice Whether `provider` may be assigned a job that locks `collateral`.
    function isEligible(address provider, uint256 collateral) external view returns (bool) {
        return _isActive(_providers[provider]) && freeStake(provider) >= collateral;
    }

    /// @notice `gpuCount × benchmarkScore`: the inference units the provider serves per epoch.
    function capacityOf(address provider) public view returns (uint256) {
        Hardware storage hw = _providers[provider].hardware;
        return uint256(hw.gpuCount) * uint256(hw.benchmarkScore);
    }

    /// @notice `stake − pendingUnstake` of `provider`: what a slash can still reach (0 when not registered).
    function stakeAtRisk(address provider) external view returns (uint256) {
        Provider storage p = _providers[provider];
        return p.stake - p.pendingUnstake;
    }

    /// @notice Sum of `capacityOf` over registered, unpaused providers with `stake − pendingUnstake ≥ minStake`.
    function totalCapacity() external view returns (uint256) {
        return _totalCapacity;
    }

    /// @notice Collateral `provider` has locked for `jobId`.
    function lockedFor(address provider, uint256 jobId) external view returns (uint256) {
        return _jobLocks[provider][jobId];
    }

    /// @notice Stake (net of pending unstakes) a provider needs to be eligible, in TSR wei.
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @notice Seconds between `requestUnstake` and `withdraw`.
    function unbondingPeriod() external view returns (uint64) {
        return _unbondingPeriod;
    }

    /// @notice The key requesters encrypt inputs to, as registered.
    function encryptionPubKeyOf(address provider) external view returns (bytes memory) {
        return _encryptionPubKeys[provider];
    }

    /// @notice The JobMarket, or zero before `setJobMarket`.
    function jobMarket() external view returns (address) {
        return _jobMarket;
    }

    /// @notice The ChallengeLedger, or zero before `setChallengeLedger`.
    function challengeLedger() external view returns (address) {
        return _challengeLedger;
    }

    /// @notice Whether the JobMarket slashed `provider` in `jobId` and `slashStake` has not acted on it yet.
    function faultedIn(address provider, uint256 jobId) external view returns (bool) {
        return _faulted[provider][jobId];
    }

    /// @notice The TSR token.
    function token() external view returns (address) {
        return address(_token);
    }

    function _isActive(Provider storage p) private view returns (bool) {
        return p.registered && !p.paused && p.stake - p.pendingUnstake >= _minStake;
    }

    /// @dev Keeps `_totalCapacity` equal to the sum of active providers' capacities after any change to `provider`.
    function _recount(address provider) private {
        uint256 capacity = _isActive(_providers[provider]) ? capacityOf(provider) : 0;
        _totalCapacity = _totalCapacity - _countedCapacity[provider] + capacity;
        _countedCapacity[provider] = capacity;
    }
}
