// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IProviderRegistry
 * @notice Types, events, errors and functions of the ProviderRegistry (PROTOCOL.md).
 */
interface IProviderRegistry {
    /// @notice A machine's self-reported hardware. `capacity = gpuCount × benchmarkScore` units per epoch.
    struct Hardware {
        uint32 gpuModel;
        uint16 gpuCount;
        uint32 vramMiB;
        uint16 cpuCores;
        uint32 memoryMiB;
        uint32 benchmarkScore;
    }

    /// @notice A provider's record. `locked` and `pendingUnstake` are parts of `stake`.
    struct Provider {
        bool registered;
        bool paused;
        Hardware hardware;
        uint256 pricePerUnit;
        bytes32 region;
        uint256 stake;
        uint256 locked;
        uint256 pendingUnstake;
        uint64 unstakeAvailableAt;
    }

    event JobMarketSet(address indexed jobMarket);
    event ProviderRegistered(
        address indexed provider, Hardware hardware, uint256 pricePerUnit, bytes32 region, bytes encryptionPubKey
    );
    event ProviderUpdated(address indexed provider, Hardware hardware, uint256 pricePerUnit, bytes32 region);
    event ProviderPaused(address indexed provider);
    event ProviderUnpaused(address indexed provider);
    event Staked(address indexed provider, uint256 amount, uint256 totalStake);
    event UnstakeRequested(address indexed provider, uint256 amount, uint64 availableAt);
    event Withdrawn(address indexed provider, uint256 amount);
    event CollateralLocked(address indexed provider, uint256 indexed jobId, uint256 amount);
    event CollateralUnlocked(address indexed provider, uint256 indexed jobId, uint256 amount);
    event Slashed(
        address indexed provider,
        uint256 indexed jobId,
        uint256 amount,
        address beneficiary,
        uint256 toBeneficiary,
        uint256 burned
    );
    event ChallengeLedgerSet(address indexed challengeLedger);
    /// @notice `amount` of `provider`'s stake, all it had beyond its locked collateral, was burned for failing the
    /// known-answer challenge `jobId`; its pending unstake went with it.
    event StakeSlashed(address indexed provider, uint256 indexed jobId, uint256 amount);

    /// @dev An address that must be set (token, admin, job market, beneficiary) is zero.
    error ZeroAddress();
    /// @dev `setJobMarket` was already called.
    error JobMarketAlreadySet();
    /// @dev `caller` is not the JobMarket.
    error NotJobMarket(address caller);
    /// @dev `provider` is already registered.
    error AlreadyRegistered(address provider);
    /// @dev `provider` is not registered.
    error NotRegistered(address provider);
    /// @dev A provider's price per unit must be positive.
    error InvalidPrice();
    /// @dev An amount must be positive.
    error ZeroAmount();
    /// @dev `pause` on a paused provider or `unpause` on an unpaused one.
    error AlreadyInState(address provider, bool paused);
    /// @dev `requested` exceeds the provider's free stake `available`.
    error InsufficientFreeStake(address provider, uint256 requested, uint256 available);
    /// @dev Nothing is pending withdrawal.
    error NothingToWithdraw();
    /// @dev The unbonding period ends at `availableAt`.
    error UnbondingNotElapsed(uint64 availableAt);
    /// @dev `requested` exceeds the collateral `locked` for `jobId`.
    error InsufficientLocked(address provider, uint256 jobId, uint256 requested, uint256 locked);
    /// @dev A basis-point value above 10 000.
    error InvalidBps(uint256 bps);
    /// @dev `setChallengeLedger` was already called.
    error ChallengeLedgerAlreadySet();
    /// @dev `caller` is not the ChallengeLedger.
    error NotChallengeLedger(address caller);
    /// @dev The JobMarket did not slash `provider` in `jobId`, or its stake was slashed for that job already.
    error NotFaulted(address provider, uint256 jobId);

    function setJobMarket(address jobMarket) external;
    function setChallengeLedger(address challengeLedger) external;
    function register(Hardware calldata hw, uint256 pricePerUnit, bytes32 region, bytes calldata encryptionPubKey)
        external;
    function update(Hardware calldata hw, uint256 pricePerUnit, bytes32 region) external;
    function pause() external;
    function unpause() external;
    function stake(uint256 amount) external;
    function requestUnstake(uint256 amount) external;
    function withdraw() external;

    function lock(address provider, uint256 jobId, uint256 amount) external;
    function unlock(address provider, uint256 jobId, uint256 amount) external;
    function slash(address provider, uint256 jobId, uint256 amount, address beneficiary, uint256 beneficiaryBps)
        external
        returns (uint256 toBeneficiary);
    function slashStake(address provider, uint256 jobId) external returns (uint256 amount);

    function getProvider(address provider) external view returns (Provider memory);
    function freeStake(address provider) external view returns (uint256);
    function isEligible(address provider, uint256 collateral) external view returns (bool);
    function capacityOf(address provider) external view returns (uint256);
    function totalCapacity() external view returns (uint256);
    function stakeAtRisk(address provider) external view returns (uint256);
    function lockedFor(address provider, uint256 jobId) external view returns (uint256);
    function minStake() external view returns (uint256);
    function unbondingPeriod() external view returns (uint64);
    function encryptionPubKeyOf(address provider) external view returns (bytes memory);
    function jobMarket() external view returns (address);
    function challengeLedger() external view returns (address);
    function faultedIn(address provider, uint256 jobId) external view returns (bool);
    function token() external view returns (address);
}
