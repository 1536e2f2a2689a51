// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IEmissionController} from "./interfaces/IEmissionController.sol";
import {IProviderRegistryStake} from "./interfaces/IProviderRegistryStake.sol";
import {ITesseraTokenMintable} from "./interfaces/ITesseraTokenMintable.sol";

/**
 * @title EmissionController
 * @notice Mints TSR rewards per epoch under the fee-anchored law of ECONOMICS.md (see
 * `economics/README.md` for the law exactly as implemented). Per epoch k:
 *
 * - fee and utilisation EMAs: `F̄ ← (F̄·(1−α_F) + F_k·α_F)`, `Ū ← (Ū·(1−α_U) + U_k·α_U)`,
 *   `U_k = min(1, compute_k / attested_k)`: paid compute counted only up to each provider's attested capacity,
 *   against the capacity the epoch's passed challenge jobs measured;
 * - usage: every provider earns `fees_i · usageRate`, `usageRate = κ·min(1, F̄/F_k)` (WAD), so a
 *   fake job of value W earns at most κ·W, less than the τ·W (and at least `minTake`) it burns;
 * - availability budget `B_k·φ`, `B_k = B0·2^(−k/540)`; φ falls by δφ (floor φ_min) while the
 *   network is in the demand regime (`κ·F̄ ≥ B_k·φ`) and `Ū < U* − db`; only governance raises it;
 * - the budget `E = usage + availability` is held within `[E_prev·(1−down), E_prev·(1+up)]` and
 *   under `cap_k = supply·r_max(k)/365`; above the upper bound the usage rate is cut first (fee-linked
 *   rewards can be washed, availability can't), below the lower bound availability is raised;
 * - availability goes to the providers that passed a challenge job this epoch, weight
 *   `min(attested capacity, stake at risk / stakePerUnit)`, each capped at `maxProviderShare` of the pool;
 *   the rest is forfeited.
 *
 * Every division rounds down. Bounded gas: nothing loops over providers. An epoch keeps totals
 * (fees, compute, attested capacity, Σ weight, and the few weights at or above the per-provider cap), closing it
 * stores two numbers (the usage rate and the availability pool) whatever the number of paid providers, and
 * each provider's reward is computed from those and its own fees and weight when it pulls it with
 * `claim`; rounding dust and forfeits are never minted. Catch-up after skipped epochs is bounded by
 * the caller (`advanceEpoch(maxEpochs)`). Parameters change only through the governor (a TimelockController),
 * within the hard bounds below.
 */
contract EmissionController is IEmissionController {
    /// @notice Fixed-point one (1e18).
    uint256 public constant WAD = 1e18;

    /// @notice α_F = 1 − 2^(−1/14) in WAD, floored: fee EMA with a 14-epoch half-life.
    uint256 public constant ALPHA_F_WAD = 48304846989380390;

    /// @notice α_U = 1 − 2^(−1/7) in WAD, floored: utilisation EMA with a 7-epoch half-life.
    uint256 public constant ALPHA_U_WAD = 94276335736093328;

    /// @notice 2^(−1/540) in WAD, floored: per-epoch decay of the base availability B_k (T_B = 540 epochs).
    uint256 public constant BASE_DECAY_WAD = 998717217579739978;

    /// @notice 0.88^(1/365) in WAD, floored: per-epoch decay of r_max (−12 % a year).
    uint256 public constant R_MAX_DECAY_WAD = 999649832907716589;

    /// @notice Epochs in a year for the cap (the law counts in epochs; one epoch is one economic day).
    uint256 public constant EPOCHS_PER_YEAR = 365;

    /// @notice Epochs `advanceEpoch()` closes at most; `advanceEpoch(maxEpochs)` takes the bound from the caller.
    uint256 public constant DEFAULT_MAX_EPOCHS = 64;

    /**
     * @notice Smallest `maxProviderShare` (1/16). Fewer than `WAD / maxProviderShare + 1` recipients can hold
     * the cap's share of an epoch's weight at once, so this bounds the capped set `recordChallenge` keeps to 16.
     */
    uint256 public constant MIN_PROVIDER_SHARE = WAD / 16;

    /// @notice Governance bound: κ ≤ 20 % (and always below the JobMarket's take τ).
    uint256 public constant MAX_KAPPA = WAD / 5;
    /// @notice Governance bound: φ_min ≥ 25 % (φ never falls below a quarter of B_k).
    uint256 public constant MIN_PHI_MIN = WAD / 4;
    /// @notice Governance bound: δφ ≤ 5 % a epoch.
    uint256 public constant MAX_PHI_STEP = WAD / 20;
    /// @notice Governance bounds: 30 % ≤ U* ≤ 90 %, db ≤ 20 %.
    uint256 public constant MIN_TARGET_UTILISATION = (3 * WAD) / 10;
    uint256 public constant MAX_TARGET_UTILISATION = (9 * WAD) / 10;
    uint256 public constant MAX_DEADBAND = WAD / 5;
    /// @notice Governance bound: each budget step bound ≤ 5 % a epoch.
    uint256 public constant MAX_STEP = WAD / 20;
    /// @notice Governance bound: `stakePerUnit` ≤ 1,000 TSR per attested unit per epoch.
    uint256 public constant MAX_STAKE_PER_UNIT = 1000e18;

    /// @notice `EpochAdvanced.limiter`: no bound touched the epoch's budget.
    uint8 public constant LIMITER_NONE = 0;
    /// @notice `EpochAdvanced.limiter`: the budget was cut to `E_prev·(1 + maxStepUp)`.
    uint8 public constant LIMITER_STEP_UP = 1;
    /// @notice `EpochAdvanced.limiter`: the budget was raised to `E_prev·(1 − maxStepDown)` (or the cap, if lower).
    uint8 public constant LIMITER_STEP_DOWN = 2;
    /// @notice `EpochAdvanced.limiter`: the budget was cut to the dilution cap.
    uint8 public constant LIMITER_CAP = 3;

    /**
     * @notice Constructor parameters; all fractions in WAD, amounts in TSR wei.
     * @param epochLength seconds per epoch (devnet 30, production 86400); fixed at deploy.
     * @param kappa κ, usage reward per unit of verified fee (default 5 %); must be below τ.
     * @param baseAvailability0 B0, base availability budget of epoch 0 (default 6,000 TSR); fixed at deploy.
     * @param phi0 initial availability multiplier φ (default 1); fixed at deploy (governance moves φ with `setPhi`).
     * @param phiMin floor of φ (default 0.5).
     * @param phiStep δφ, relative decrease of φ per epoch (default 1 %).
     * @param targetUtilisation U* (default 0.65).
     * @param deadband db: φ falls only while Ū < U* − db (default 0.05).
     * @param maxStepUp most the budget rises per epoch, relative (default 2 %).
     * @param maxStepDown most the budget falls per epoch, relative (default 1.5 %).
     * @param maxProviderShare most of the availability pool one provider earns (default 25 %, at least 1/16); fixed
     *        at deploy (the capped set of an open epoch depends on it).
     * @param rMax0 r_max(0), the annual dilution cap at epoch 0 (default 8 %); fixed at deploy.
     * @param stakePerUnit stake at risk (TSR wei) that backs one unit of attested capacity per epoch in the
     *        availability weight; 0: stake doesn't bound the weight.
     */
    struct Params {
        uint64 epochLength;
        uint256 kappa;
        uint256 baseAvailability0;
        uint256 phi0;
        uint256 phiMin;
        uint256 phiStep;
        uint256 targetUtilisation;
        uint256 deadband;
        uint256 maxStepUp;
        uint256 maxStepDown;
        uint256 maxProviderShare;
        uint256 rMax0;
        uint256 stakePerUnit;
    }

    /**
     * @notice The controller's state between epochs.
     * @param nextEpoch the next epoch to close (= lastClosedEpoch + 1).
     * @param feeEma F̄ in TSR wei.
     * @param utilisationEma Ū in WAD.
     * @param phi φ in WAD.
     * @param baseAvailability B_k of `nextEpoch` in TSR wei.
     * @param rMax r_max of `nextEpoch` in WAD.
     * @param lastEmission the previous epoch's budget E (usage + availability pool, before forfeits);
     *        starts at B0·φ0.
     */
    struct State {
        uint256 nextEpoch;
        uint256 feeEma;
        uint256 utilisationEma;
        uint256 phi;
        uint256 baseAvailability;
        uint256 rMax;
        uint256 lastEmission;
    }

    /**
     * @dev What an epoch accumulates while open and keeps once closed. `compute` is the paid units counted (each
     * provider's only up to its attested capacity), `attested` the capacity of the providers that passed a challenge
     * in it. `capped` holds the weights `w` of the recipients with `w·WAD ≥ totalWeight·maxProviderShare` (their
     * reward is the cap; at most `WAD / maxProviderShare` ≤ 16 of them); the threshold only rises as recipients join,
     * so a weight that leaves never returns. `usageRate` is stored at close when the epoch had fees,
     * `availabilityPool` when it had weight.
     */
    struct EpochData {
        uint256 fees;
        uint256 units;
        uint256 compute;
        uint256 attested;
        uint256 totalWeight;
        uint256 usageRate;
        uint256 availabilityPool;
        uint256[] capped;
    }

    /**
     * @dev One provider's part of one epoch: its fees, the paid units counted for it, its availability weight, and
     * whether a passed challenge made it a recipient and whether it claimed.
     */
    struct ProviderEpoch {
        uint256 fees;
        uint256 compute;
        uint128 weight;
        bool recipient;
        bool claimed;
    }

    /**
     * @notice Epoch `epoch` was closed; every field of the law's output for it. `units` are the paid units as
     * declared, `compute` what counts of them (each provider's up to its attested capacity), `attested` the capacity
     * the epoch's passed challenges measured (units per epoch); `utilisation = min(1, compute / attested)`.
     * `usageEmission` and `availabilityEmission` are what the epoch's providers can claim together, before each one's
     * rounding down (at most 1 wei per provider is never minted); `forfeited` is the part of the availability pool
     * nobody can claim: all of it without a recipient, else the excess of the recipients held to
     * `maxProviderShare`. usage + availability + forfeited = the epoch's budget E.
     */
    event EpochAdvanced(
        uint256 indexed epoch,
        uint256 fees,
        uint256 units,
        uint256 compute,
        uint256 attested,
        uint256 utilisation,
        uint256 feeEma,
        uint256 utilisationEma,
        uint256 phi,
        uint256 baseAvailability,
        uint256 usageEmission,
        uint256 availabilityEmission,
        uint256 forfeited,
        uint256 cap,
        uint8 limiter
    );

    /// @notice `provider` claimed its reward for `epoch`.
    event RewardClaimed(uint256 indexed epoch, address indexed provider, uint256 usage, uint256 availability);

    /**
     * @notice A challenge of `provider` was recorded in `epoch`: passed with `attested` units per epoch of measured
     * capacity and availability weight `weight` (0 when it was not its first pass of the epoch or it has no stake at
     * risk), or failed (its attested capacity is then 0 until it passes again).
     */
    event ChallengeCounted(uint256 indexed epoch, address indexed provider, bool passed, uint256 attested, uint256 weight);

    /// @notice The JobMarket was set (once, by the admin).
    event JobMarketSet(address indexed jobMarket);
    /// @notice The ChallengeLedger was set (once, by the admin).
    event ChallengeLedgerSet(address indexed challengeLedger);
    /// @notice The governor was set (once, by the admin).
    event GovernorSet(address indexed governor);
    /// @notice Governance replaced the parameters.
    event ParamsSet(Params params);
    /// @notice Governance set φ.
    event PhiSet(uint256 phi);

    /// @dev `caller` is not the admin.
    error NotAdmin(address caller);
    /// @dev `caller` is not the JobMarket.
    error NotJobMarket(address caller);
    /// @dev `caller` is not the ChallengeLedger.
    error NotChallengeLedger(address caller);
    /// @dev `caller` is not the governor.
    error NotGovernor(address caller);
    /// @dev The one-time wiring call was already made.
    error AlreadySet();
    /// @dev An address argument was zero.
    error ZeroAddress();
    /// @dev A parameter is out of range; `index` is its position in `Params`.
    error InvalidParam(uint256 index);
    /// @dev `phi` is outside `[phiMin, 1]`.
    error InvalidPhi(uint256 phi);
    /// @dev `epoch` has not been closed yet.
    error EpochNotClosed(uint256 epoch);
    /// @dev `provider` already claimed `epoch`.
    error AlreadyClaimed(uint256 epoch, address provider);
    /// @dev `provider` has nothing to claim for `epoch`.
    error NothingToClaim(uint256 epoch, address provider);

    ITesseraTokenMintable private immutable _token;
    IProviderRegistryStake private immutable _registry;
    address private immutable _admin;
    uint256 private immutable _genesis;
    uint256 private immutable _maxProviderShare;
    Params private _params;
    State private _state;
    address private _jobMarket;
    address private _challengeLedger;
    address private _governor;
    mapping(uint256 epoch => EpochData) private _epochs;
    mapping(uint256 epoch => mapping(address provider => ProviderEpoch)) private _providerEpochs;
    /// @dev Each provider's capacity (units per epoch) as its last recorded challenge measured it; 0 after a failure.
    mapping(address provider => uint256) private _attested;

    /**
     * @param token TesseraToken; this contract must be its minter.
     * @param registry ProviderRegistry (stake at risk).
     * @param admin may call `setJobMarket`, `setChallengeLedger` and `setGovernor` once each.
     * @param p the law's parameters (see `Params`).
     * Requirements:
     * - no address is zero; `epochLength > 0`; `kappa < 1`; `phiMin ≤ phi0 ≤ 1`; `phiStep < 1`;
     *   `deadband ≤ targetUtilisation ≤ 1`; `maxStepDown < 1`; `MIN_PROVIDER_SHARE ≤ maxProviderShare ≤ 1`;
     *   `rMax0 ≤ 1`.
     */
    constructor(address token, address registry, address admin, Params memory p) {
        if (token == address(0) || registry == address(0) || admin == address(0)) revert ZeroAddress();
        if (p.epochLength == 0) revert InvalidParam(0);
        if (p.kappa >= WAD) revert InvalidParam(1);
        if (p.phi0 > WAD) revert InvalidParam(3);
        if (p.phiMin > p.phi0) revert InvalidParam(4);
        if (p.phiStep >= WAD) revert InvalidParam(5);
        if (p.targetUtilisation > WAD) revert InvalidParam(6);
        if (p.deadband > p.targetUtilisation) revert InvalidParam(7);
        if (p.maxStepDown >= WAD) revert InvalidParam(9);
        if (p.maxProviderShare < MIN_PROVIDER_SHARE || p.maxProviderShare > WAD) revert InvalidParam(10);
        if (p.rMax0 > WAD) revert InvalidParam(11);
        _token = ITesseraTokenMintable(token);
        _registry = IProviderRegistryStake(registry);
        _admin = admin;
        _genesis = block.timestamp;
        _maxProviderShare = p.maxProviderShare;
        _params = p;
        _state = State({
            nextEpoch: 0,
            feeEma: 0,
            utilisationEma: 0,
            phi: p.phi0,
            baseAvailability: p.baseAvailability0,
            rMax: p.rMax0,
            lastEmission: (p.baseAvailability0 * p.phi0) / WAD
        });
    }

    /**
     * @notice Sets the only caller of `recordJob`.
     * Requirements: the caller is the admin; not set before; `jobMarket_` is not zero.
     */
    function setJobMarket(address jobMarket_) external {
        _setOnce(_jobMarket, jobMarket_);
        _jobMarket = jobMarket_;
        emit JobMarketSet(jobMarket_);
    }

    /**
     * @notice Sets the only caller of `recordChallenge`.
     * Requirements: the caller is the admin; not set before; `challengeLedger_` is not zero.
     */
    function setChallengeLedger(address challengeLedger_) external {
        _setOnce(_challengeLedger, challengeLedger_);
        _challengeLedger = challengeLedger_;
        emit ChallengeLedgerSet(challengeLedger_);
    }

    /**
     * @notice Sets the only caller of `setParams` and `setPhi` (the deployment's TimelockController).
     * Requirements: the caller is the admin; not set before; `governor_` is not zero.
     */
    function setGovernor(address governor_) external {
        _setOnce(_governor, governor_);
        _governor = governor_;
        emit GovernorSet(governor_);
    }

    /**
     * @notice Governance: replaces the parameters, effective from the next epoch closed.
     * Requirements:
     * - the caller is the governor;
     * - `epochLength`, `baseAvailability0`, `phi0`, `maxProviderShare` and `rMax0` are unchanged (they are fixed at
     *   deploy; `InvalidParam(index)` otherwise);
     * - within the hard bounds: `0 < kappa ≤ MAX_KAPPA` and below the JobMarket's take; `MIN_PHI_MIN ≤ phiMin ≤ φ`;
     *   `phiStep ≤ MAX_PHI_STEP`; `MIN_TARGET_UTILISATION ≤ targetUtilisation ≤ MAX_TARGET_UTILISATION`;
     *   `deadband ≤ MAX_DEADBAND`; both step bounds `≤ MAX_STEP`; `stakePerUnit ≤ MAX_STAKE_PER_UNIT`.
     */
    function setParams(Params calldata p) external {
        if (msg.sender != _governor) revert NotGovernor(msg.sender);
        Params memory old = _params;
        if (p.epochLength != old.epochLength) revert InvalidParam(0);
        if (p.kappa == 0 || p.kappa > MAX_KAPPA || p.kappa >= _takeWad()) revert InvalidParam(1);
        if (p.baseAvailability0 != old.baseAvailability0) revert InvalidParam(2);
        if (p.phi0 != old.phi0) revert InvalidParam(3);
        if (p.phiMin < MIN_PHI_MIN || p.phiMin > _state.phi) revert InvalidParam(4);
        if (p.phiStep > MAX_PHI_STEP) revert InvalidParam(5);
        if (p.targetUtilisation < MIN_TARGET_UTILISATION || p.targetUtilisation > MAX_TARGET_UTILISATION) {
            revert InvalidParam(6);
        }
        if (p.deadband > MAX_DEADBAND) revert InvalidParam(7);
        if (p.maxStepUp > MAX_STEP) revert InvalidParam(8);
        if (p.maxStepDown > MAX_STEP) revert InvalidParam(9);
        if (p.maxProviderShare != old.maxProviderShare) revert InvalidParam(10);
        if (p.rMax0 != old.rMax0) revert InvalidParam(11);
        if (p.stakePerUnit > MAX_STAKE_PER_UNIT) revert InvalidParam(12);
        _params = p;
        emit ParamsSet(p);
    }

    /**
     * @notice Governance: sets φ, effective from the next epoch closed. The only way φ rises.
     * Requirements: the caller is the governor; `phiMin ≤ phi ≤ 1`.
     */
    function setPhi(uint256 phi) external {
        if (msg.sender != _governor) revert NotGovernor(msg.sender);
        if (phi < _params.phiMin || phi > WAD) revert InvalidPhi(phi);
        _state.phi = phi;
        emit PhiSet(phi);
    }

    /**
     * @notice Adds a settled job's `fee` and `units` to the current epoch, credited to `provider`. Of the units, the
     * epoch counts as paid compute only what stays within the provider's attested capacity (from its last challenge):
     * units a requester declares beyond what the provider was measured to serve count for nothing.
     * Requirements:
     * - the caller is the JobMarket.
     */
    function recordJob(address provider, uint256 fee, uint256 units) external override {
        if (msg.sender != _jobMarket || msg.sender == address(0)) revert NotJobMarket(msg.sender);
        uint256 epoch = currentEpoch();
        EpochData storage e = _epochs[epoch];
        ProviderEpoch storage pe = _providerEpochs[epoch][provider];
        e.fees += fee;
        e.units += units;
        pe.fees += fee;
        uint256 attested = _attested[provider];
        if (attested > pe.compute) {
            uint256 counted = Math.min(units, attested - pe.compute);
            pe.compute += counted;
            e.compute += counted;
        }
    }

    /**
     * @notice Records a settled challenge job of `provider`. A pass measures its capacity, `unitsPerHour` scaled to
     * the epoch, and the provider's first pass of the epoch makes it an availability recipient: the capacity joins the
     * epoch's attested capacity and its weight is `min(capacity, stakeAtRisk / stakePerUnit)`, read now. A failure
     * sets its attested capacity to 0 until it passes again (its paid units stop counting as compute). Constant gas
     * but for the capped set, which holds at most `WAD / maxProviderShare` (≤ 16) weights.
     * Requirements:
     * - the caller is the ChallengeLedger.
     */
    function recordChallenge(address provider, bool passed, uint64 unitsPerHour) external override {
        if (msg.sender != _challengeLedger || msg.sender == address(0)) revert NotChallengeLedger(msg.sender);
        uint256 epoch = currentEpoch();
        if (!passed) {
            _attested[provider] = 0;
            emit ChallengeCounted(epoch, provider, false, 0, 0);
            return;
        }
        uint256 capacity = (uint256(unitsPerHour) * _params.epochLength) / 3600;
        _attested[provider] = capacity;
        ProviderEpoch storage pe = _providerEpochs[epoch][provider];
        uint256 weight;
        if (!pe.recipient) {
            pe.recipient = true;
            EpochData storage e = _epochs[epoch];
            e.attested += capacity;
            uint256 perUnit = _params.stakePerUnit;
            weight = perUnit == 0 ? capacity : Math.min(capacity, _registry.stakeAtRisk(provider) / perUnit);
            if (weight != 0) {
                pe.weight = uint128(weight);
                _addWeight(e, weight);
            }
        }
        emit ChallengeCounted(epoch, provider, true, capacity, weight);
    }

    /// @notice Closes ended, unclosed epochs, oldest first, at most `DEFAULT_MAX_EPOCHS` (see `advanceEpoch(uint256)`).
    function advanceEpoch() external override {
        _advance(DEFAULT_MAX_EPOCHS);
    }

    /**
     * @notice Closes ended, unclosed epochs, oldest first, at most `maxEpochs`; emits one
     * `EpochAdvanced` each. Anyone may call it; with nothing to close (or `maxEpochs == 0`) it does
     * nothing. Gas is a constant plus a constant per epoch closed, whatever the number of providers
     * paid in them: after an outage of any length, a caller chooses a bound that fits its block and
     * calls again until caught up. The token's supply is read once and used for every epoch closed in this call.
     */
    function advanceEpoch(uint256 maxEpochs) external {
        _advance(maxEpochs);
    }

    /**
     * @notice Mints the caller's usage and availability reward for `epoch`.
     * Requirements:
     * - `epoch` is closed; the caller has not claimed it; the reward is not zero.
     */
    function claim(uint256 epoch) external override {
        if (epoch >= _state.nextEpoch) revert EpochNotClosed(epoch);
        ProviderEpoch storage pe = _providerEpochs[epoch][msg.sender];
        if (pe.claimed) revert AlreadyClaimed(epoch, msg.sender);
        (uint256 usage, uint256 availability) = _reward(epoch, msg.sender);
        if (usage + availability == 0) revert NothingToClaim(epoch, msg.sender);
        pe.claimed = true;
        emit RewardClaimed(epoch, msg.sender, usage, availability);
        _token.mint(msg.sender, usage + availability);
    }

    /// @notice The epoch the current block falls in.
    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - _genesis) / _params.epochLength;
    }

    /// @notice The last closed epoch, or `type(uint256).max` before the first close.
    function lastClosedEpoch() external view returns (uint256) {
        uint256 next = _state.nextEpoch;
        return next == 0 ? type(uint256).max : next - 1;
    }

    /// @notice What `provider` can still claim for `epoch` (zero when not closed or already claimed).
    function claimable(uint256 epoch, address provider) external view returns (uint256 usage, uint256 availability) {
        if (epoch >= _state.nextEpoch || _providerEpochs[epoch][provider].claimed) return (0, 0);
        return _reward(epoch, provider);
    }

    /// @notice `provider`'s capacity (units per epoch) as its last recorded challenge measured it; 0 after a failure.
    function attestedCapacityOf(address provider) external view returns (uint256) {
        return _attested[provider];
    }

    /// @notice κ (WAD).
    function kappa() external view override returns (uint256) {
        return _params.kappa;
    }

    /// @notice The controller's state (see `State`).
    function state() external view returns (State memory) {
        return _state;
    }

    /// @notice The law's parameters (see `Params`).
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice Deploy timestamp; epoch e covers `[genesis + e·epochLength, genesis + (e+1)·epochLength)`.
    function genesis() external view returns (uint256) {
        return _genesis;
    }

    /// @notice The JobMarket allowed to call `recordJob` (zero before `setJobMarket`).
    function jobMarket() external view returns (address) {
        return _jobMarket;
    }

    /// @notice The ChallengeLedger allowed to call `recordChallenge` (zero before `setChallengeLedger`).
    function challengeLedger() external view returns (address) {
        return _challengeLedger;
    }

    /// @notice The governor allowed to call `setParams` and `setPhi` (zero before `setGovernor`).
    function governor() external view returns (address) {
        return _governor;
    }

    /// @dev Checks a one-time wiring call: the caller is the admin, `current` is unset, `next` is not zero.
    function _setOnce(address current, address next) private view {
        if (msg.sender != _admin) revert NotAdmin(msg.sender);
        if (current != address(0)) revert AlreadySet();
        if (next == address(0)) revert ZeroAddress();
    }

    /// @dev The JobMarket's take τ in WAD (`takeBps · 1e14`); the most a κ may not reach. WAD without a JobMarket.
    function _takeWad() private view returns (uint256) {
        if (_jobMarket == address(0)) return WAD;
        return uint256(ITakeBps(_jobMarket).params().takeBps) * 1e14;
    }

    /// @dev Closes up to `maxEpochs` ended epochs.
    function _advance(uint256 maxEpochs) private {
        uint256 current = currentEpoch();
        State memory s = _state;
        if (s.nextEpoch >= current || maxEpochs == 0) return;
        uint256 first = s.nextEpoch;
        uint256 end = current - first > maxEpochs ? first + maxEpochs : current;
        uint256 supply = _token.totalSupply();
        Params memory p = _params;
        for (uint256 k = first; k < end; ++k) {
            _closeEpoch(k, s, p, supply);
        }
        _state = s;
    }

    /**
     * @dev Adds a recipient's `weight` (non-zero) to the open epoch `e`: drops from the capped set the
     * weights the larger total leaves below the cap's share, and adds `weight` to it if it holds that share.
     */
    function _addWeight(EpochData storage e, uint256 weight) private {
        uint256 total = e.totalWeight + weight;
        e.totalWeight = total;
        // A weight w is capped iff w·WAD ≥ total·maxProviderShare: then pool·w/total ≥ pool·maxProviderShare/WAD.
        uint256 threshold = total * _maxProviderShare;
        uint256[] storage capped = e.capped;
        // Backwards, so the last weight swapped into a dropped one's place was already checked.
        for (uint256 i = capped.length; i != 0;) {
            --i;
            if (capped[i] * WAD < threshold) {
                capped[i] = capped[capped.length - 1];
                capped.pop();
            }
        }
        if (weight * WAD >= threshold) capped.push(weight);
    }

    /// @dev Applies the law to epoch `k`, updating `s` in memory; stores what claims need.
    function _closeEpoch(uint256 k, State memory s, Params memory p, uint256 supply) private {
        EpochData storage e = _epochs[k];
        uint256 fees = e.fees;
        uint256 attested = e.attested;

        uint256 utilisation = attested == 0 ? 0 : Math.min(WAD, (e.compute * WAD) / attested);
        s.feeEma = (s.feeEma * (WAD - ALPHA_F_WAD) + fees * ALPHA_F_WAD) / WAD;
        s.utilisationEma = (s.utilisationEma * (WAD - ALPHA_U_WAD) + utilisation * ALPHA_U_WAD) / WAD;

        // Usage: κ·min(1, F̄/F_k) per unit of fee, so the epoch's usage is κ·min(F_k, F̄).
        uint256 usageRate = (fees == 0 || s.feeEma >= fees) ? p.kappa : (p.kappa * s.feeEma) / fees;
        uint256 usage = (fees * usageRate) / WAD;

        // φ only falls, and only in the demand regime: the usage pool κ·F̄ covers B_k·φ.
        uint256 base = s.baseAvailability;
        bool demandRegime = (s.feeEma * p.kappa) / WAD >= (base * s.phi) / WAD;
        if (demandRegime && s.utilisationEma + p.deadband < p.targetUtilisation) {
            s.phi = Math.max(p.phiMin, (s.phi * (WAD - p.phiStep)) / WAD);
        }
        uint256 availability = (base * s.phi) / WAD;

        // Budget bounds: ±step around the previous budget, and the dilution cap. Above the upper bound the usage
        // rate is cut first: fees can be washed, proven availability can't, so washing never displaces it.
        uint256 cap = (supply * s.rMax) / WAD / EPOCHS_PER_YEAR;
        uint256 stepUp = (s.lastEmission * (WAD + p.maxStepUp)) / WAD;
        uint256 upper = Math.min(stepUp, cap);
        uint256 lower = Math.min((s.lastEmission * (WAD - p.maxStepDown)) / WAD, upper);
        uint8 limiter = LIMITER_NONE;
        if (usage + availability > upper) {
            limiter = cap < stepUp ? LIMITER_CAP : LIMITER_STEP_UP;
            if (availability > upper) availability = upper;
            if (usage > upper - availability) {
                // fees > 0 here, since usage > upper − availability ≥ 0.
                usageRate = ((upper - availability) * WAD) / fees;
                usage = (fees * usageRate) / WAD;
                // The rate's rounding dust (< fees / WAD) goes to availability: the budget is exactly the bound.
                availability = upper - usage;
            }
        } else if (usage + availability < lower) {
            limiter = LIMITER_STEP_DOWN;
            availability = lower - usage;
        }
        s.lastEmission = usage + availability;

        // Claims need the rate only with fees and the pool only with weight (skipped epochs store nothing).
        if (fees != 0) e.usageRate = usageRate;
        uint256 distributed;
        if (e.totalWeight != 0) {
            e.availabilityPool = availability;
            distributed = _claimableAvailability(e, availability);
        }

        emit EpochAdvanced(
            k,
            fees,
            e.units,
            e.compute,
            attested,
            utilisation,
            s.feeEma,
            s.utilisationEma,
            s.phi,
            base,
            usage,
            distributed,
            availability - distributed,
            cap,
            limiter
        );

        s.baseAvailability = (base * BASE_DECAY_WAD) / WAD;
        s.rMax = (s.rMax * R_MAX_DECAY_WAD) / WAD;
        s.nextEpoch = k + 1;
    }

    /**
     * @dev What the recipients of `e` (with `totalWeight > 0`) can claim of `pool` together, from totals and
     * the capped set (≤ 16 weights), never visiting a provider: Σ over uncapped w of pool·w/Σw floored once
     * (each claim floors its own share, so ≤ 1 wei each is never minted), plus pool·maxProviderShare per
     * capped one.
     */
    function _claimableAvailability(EpochData storage e, uint256 pool) private view returns (uint256) {
        uint256[] storage capped = e.capped;
        uint256 n = capped.length;
        uint256 cappedWeight;
        for (uint256 i; i < n; ++i) {
            cappedWeight += capped[i];
        }
        uint256 totalWeight = e.totalWeight;
        return Math.mulDiv(pool, totalWeight - cappedWeight, totalWeight)
            + n * Math.mulDiv(pool, _maxProviderShare, WAD);
    }

    /// @dev `provider`'s usage and availability reward of closed `epoch`, rounded down.
    function _reward(uint256 epoch, address provider) private view returns (uint256 usage, uint256 availability) {
        EpochData storage e = _epochs[epoch];
        ProviderEpoch storage pe = _providerEpochs[epoch][provider];
        usage = (pe.fees * e.usageRate) / WAD;
        uint256 weight = pe.weight;
        if (weight != 0) {
            uint256 pool = e.availabilityPool;
            // min(pool·w/Σw, pool·maxProviderShare), each rounded down.
            availability =
                Math.min(Math.mulDiv(pool, weight, e.totalWeight), Math.mulDiv(pool, _maxProviderShare, WAD));
        }
    }
}

/// @dev The first field of JobMarket's `params()`: its take τ in bps (the rest of the struct is not decoded).
interface ITakeBps {
    struct TakeOnly {
        uint16 takeBps;
    }

    function params() external view returns (TakeOnly memory);
}
