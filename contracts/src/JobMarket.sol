// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {IEmissionController} from "./interfaces/IEmissionController.sol";

/**
 * @title JobMarket
 * @notice Requesters escrow payment for inference jobs; the matcher assigns k providers; the
 * providers commit and then reveal a result fingerprint, or the code of the reason they could not
 * run the job (failure is a result); a strict majority wins. Agreeing providers are paid their own
 * ask (a small fee when the job itself was invalid), dissenters and non-revealers are slashed, the
 * protocol take is burned and the rest is refunded. No majority goes once to a tie-break by fresh
 * providers whose verdict settles both rounds, so the losers pay for it. Every payout is a credit
 * to `owed`, pulled with `withdraw`.
 *
 * Collateral follows the provider: a slot locks `ask × units × collateralBps / BPS` of its own
 * provider's ask, never a number the requester picks. A requester never profits from a slash: the
 * collateral of a no-show (`expireAssignment`) or of a non-revealer in a Failed job is burned
 * whole, so a failed or reopened job leaves its requester with at most what it deposited. Only in
 * a Completed job, where the requester paid for the work, does a slash's beneficiary share go to
 * the agreeing providers. A provider that no-showed a job is never assigned that job again.
 *
 * An Optimistic job runs once (k = 1), its escrow holding a second execution for an audit: a fraction of such jobs,
 * every job above a value threshold, and every challenged one (`challenge`, with a bond) go to a fresh auditor before
 * they settle, and to a tie-break when the two disagree (`finalize`). Unaudited jobs pay a premium into the audit
 * fund, which pays for the audits of the others.
 *
 * Invariant: the token balance of this contract equals `Σ owed + Σ escrow + Σ challenge bonds` over live jobs
 * (Open, Assigned, Committed, Revealed, Disputed) `+ auditFund`.
 */
contract JobMarket is AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Open,
        Assigned,
        Committed,
        Revealed,
        Completed,
        Failed,
        Cancelled,
        Expired,
        Disputed,
        FailedInvalid
    }

    /// @notice How one provider's part in a job ended, as `SlotSettled` reports it.
    enum Outcome {
        Agreed,
        Dissented,
        NoReveal,
        Released
    }

    enum Verification {
        Redundant,
        Optimistic
    }

    struct JobSpec {
        bytes32 modelHash;
        bytes32 inputHash;
        uint64 units;
        uint256 maxPricePerUnit;
        uint32 minVramMiB;
        uint32 gpuModel;
        bytes32[] regions;
        uint8 redundancy;
        uint8 verification;
        uint64 deadline;
        uint8 outputTolerance;
    }

    struct Params {
        uint16 takeBps;
        uint16 collateralBps;
        uint16 slashBeneficiaryBps;
        uint64 commitWindow;
        uint64 revealWindow;
        uint16 failureFeeBps;
        uint64 claimGrace;
        uint64 proofWindow;
        uint64 challengeWindow;
        uint16 spotCheckBps;
        uint16 challengeBondBps;
        uint32 optimisticCollateralBps;
        uint256 auditThreshold;
        uint256 minTake;
    }

    /// @notice Why an optimistic job is audited: chosen by `spotCheckBps` (Spot), worth `auditThreshold` or more
    /// (Threshold), or challenged with a bond (Challenge).
    enum AuditKind {
        None,
        Spot,
        Threshold,
        Challenge
    }

    /**
     * @notice An optimistic job's audit: its kind, the block whose successor's hash decides the spot check (the block of
     * the reveal), and the challenger and its bond when challenged.
     */
    struct Audit {
        AuditKind kind;
        uint64 revealBlock;
        address challenger;
        uint256 bond;
    }

    /// @dev Fields ordered to pack: requester, status, openedAt and the flags share a slot, so do the three deadlines.
    struct Job {
        JobSpec spec;
        address requester;
        Status status;
        uint64 openedAt;
        bool tieBreak;
        bool claimed;
        uint256 escrow;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint64 firstClaimAt;
        address[] providers;
        address[] disputed;
    }

    struct Slot {
        bool assigned;
        uint256 ask;
        uint256 collateral;
        bytes32 commitment;
        bool revealed;
        bytes32 fingerprint;
        bytes32 outputHash;
    }

    /**
     * @notice One element of a provider's committed output with the Merkle path proving it against the provider's
     * fingerprint (PROTOCOL.md, "Results"): the output has `length` values and committed `scale`; `chunk` is the
     * eight-word leaf holding element `index`, `proof` the sibling hashes from the leaf up.
     */
    struct Opening {
        uint64 length;
        uint32 scale;
        uint64 index;
        bytes32 chunk;
        bytes32[] proof;
    }

    /// @dev A request that `provider` open element `index` of its output before the proof window closes.
    struct OpeningRequest {
        uint64 index;
        bool made;
    }

    /// @notice Role allowed to call `assign` (the server's matcher).
    bytes32 public constant MATCHER_ROLE = keccak256("MATCHER_ROLE");
    /// @notice Role allowed to call `setParams` (the deployment's TimelockController).
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Most `takeBps` governance can set (30 %).
    uint256 internal constant MAX_TAKE_BPS = 3000;
    /// @notice Most `minTake` governance can set (100 TSR).
    uint256 internal constant MAX_MIN_TAKE = 100e18;
    /// @notice Basis-point denominator: 10 000 bps = 100%.
    uint256 internal constant BPS = 10_000;
    /// @notice Smallest redundancy k for Redundant verification (a majority needs two voices).
    uint8 internal constant MIN_REDUNDANCY = 2;
    /// @notice Largest redundancy k; bounds the per-job loops in `assign` and `finalize`.
    uint8 internal constant MAX_REDUNDANCY = 16;
    /// @notice Most allowed regions in a spec; bounds the region check in `assign`.
    uint256 internal constant MAX_REGIONS = 16;
    /// @notice Largest output tolerance: a float32 has 23 mantissa bits.
    uint8 internal constant MAX_OUTPUT_TOLERANCE = 23;
    /**
     * @notice A revealed fingerprint in `1..FAILURE_REASONS` reports that the job could not run, for the reason with
     * that code: 1 MODEL_INVALID, 2 INPUT_MISMATCH, 3 UNSUPPORTED_OPERATOR, 4 OUT_OF_MEMORY, 5 TIMEOUT. A result's
     * fingerprint is a sha256, which lands in that range with probability 2^-253.
     */
    uint256 internal constant FAILURE_REASONS = 5;
    /// @notice Failure codes up to this one are properties of the job itself, the same on every honest machine.
    uint256 internal constant DETERMINISTIC_FAILURES = 3;
    /**
     * @notice Two elements agree when `|a − b| ≤ 2^-(outputTolerance − TOLERANCE_SLACK_BITS) × (scale + max(|a|, |b|))`,
     * `scale` the smaller of the two outputs' committed scales: sixteen rounding steps of the fingerprint, calibrated in
     * PROTOCOL.md ("Agreement under tolerance") so that honest machines never disagree.
     */
    uint256 internal constant TOLERANCE_SLACK_BITS = 4;
    /// @dev float32 words per Merkle leaf: one bytes32.
    uint256 private constant WORDS_PER_CHUNK = 8;
    /// @dev Fractional bits of the fixed point float32 words decode to; float32 magnitudes stay below 2^229.
    uint256 private constant FIXED_POINT_BITS = 100;

    IERC20 private immutable _token;
    IProviderRegistry private immutable _registry;
    IEmissionController private immutable _emissionController;
    Params private _params;

    uint256 private _nextJobId = 1;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(uint256 jobId => mapping(address provider => Slot)) private _slots;
    mapping(uint256 jobId => uint256) private _commitCount;
    mapping(uint256 jobId => uint256) private _revealCount;
    mapping(address account => uint256) private _owed;
    mapping(uint256 jobId => mapping(address provider => bool)) private _noShow;
    /// @dev Opened elements of a committed output, by its fingerprint: the word plus one (0: not opened).
    mapping(uint256 jobId => mapping(bytes32 fingerprint => mapping(uint64 index => uint256))) private _opened;
    /// @dev The length an output's openings proved, plus one (0: none opened yet).
    mapping(uint256 jobId => mapping(bytes32 fingerprint => uint256)) private _openedLength;
    /// @dev Proven disagreements between committed outputs: they hold for every provider that committed either one.
    mapping(uint256 jobId => mapping(bytes32 a => mapping(bytes32 b => bool))) private _disagree;
    mapping(uint256 jobId => mapping(address provider => OpeningRequest)) private _openingRequests;
    mapping(uint256 jobId => Audit) private _audits;
    /// @dev Audit premiums of unaudited optimistic jobs, paying for the audits of the spot-checked and challenged ones.
    uint256 private _auditFund;

    event JobSubmitted(uint256 indexed jobId, address indexed requester, JobSpec spec, uint256 escrow);
    event JobAssigned(
        uint256 indexed jobId,
        address indexed provider,
        uint8 slot,
        uint256 pricePerUnit,
        uint256 collateral,
        uint64 commitDeadline
    );
    event ResultCommitted(uint256 indexed jobId, address indexed provider, bytes32 commitment);
    event JobCommitted(uint256 indexed jobId, uint64 revealDeadline);
    event ResultRevealed(uint256 indexed jobId, address indexed provider, bytes32 fingerprint, bytes32 outputHash);
    event JobRevealed(uint256 indexed jobId);
    event ProviderPaid(uint256 indexed jobId, address indexed provider, uint256 amount);
    event SlashShareCredited(uint256 indexed jobId, address indexed provider, uint256 amount);
    event FeeBurned(uint256 indexed jobId, uint256 amount);
    event Refunded(uint256 indexed jobId, address indexed requester, uint256 amount);
    event JobFinalized(
        uint256 indexed jobId, uint8 status, bytes32 fingerprint, uint256 fees, uint256 burned, uint256 refunded
    );
    event JobCancelled(uint256 indexed jobId);
    event JobExpired(uint256 indexed jobId);
    event NoShow(uint256 indexed jobId, address indexed provider);
    event AssignmentExpired(uint256 indexed jobId, bool reopened);
    event JobDisputed(uint256 indexed jobId);
    event SlotClaimed(uint256 indexed jobId, address indexed provider, uint256 pricePerUnit, uint256 collateral);
    event SlotSettled(uint256 indexed jobId, address indexed provider, Outcome outcome);
    event Withdrawn(address indexed account, uint256 amount);
    event ElementOpened(uint256 indexed jobId, address indexed provider, uint64 index, uint32 word);
    event DisagreementProven(uint256 indexed jobId, address indexed a, address indexed b, uint64 index);
    event OpeningRequested(uint256 indexed jobId, address indexed provider, uint64 index, uint64 dueBy);
    /// @notice An optimistic job's result goes to `auditors` fresh providers (1, then 2 when the first disagrees), the
    /// job's deadline now `deadline`.
    event AuditStarted(uint256 indexed jobId, uint8 kind, uint8 auditors, uint64 deadline);
    event Challenged(uint256 indexed jobId, address indexed challenger, uint256 bond);
    /// @notice How an audited job's money moved beyond the usual settlement: `reimbursed` from the audit fund to the
    /// requester, `premium` from the requester into the fund, the challenge bond `toProvider`, `bondBurned`, `bondReturned`.
    event AuditSettled(
        uint256 indexed jobId, uint256 premium, uint256 reimbursed, uint256 toProvider, uint256 bondBurned, uint256 bondReturned
    );

    /// @dev A required address is zero.
    error ZeroAddress();
    /// @dev Constructor parameters out of range (a bps above 10 000, or a zero commit, reveal or proof window).
    error InvalidParams();
    /// @dev `verification` is neither Redundant (0) nor Optimistic (1).
    error UnsupportedVerification();
    /// @dev Redundancy outside `MIN_REDUNDANCY..MAX_REDUNDANCY` for a Redundant job, or other than 1 for an Optimistic one.
    error InvalidRedundancy(uint8 redundancy);
    /// @dev `units` must be positive.
    error InvalidUnits();
    /// @dev `maxPricePerUnit` must be positive.
    error InvalidPrice();
    /// @dev The deadline is not in the future.
    error InvalidDeadline(uint64 deadline);
    /// @dev `modelHash` or `inputHash` is zero.
    error InvalidHash();
    /// @dev `outputTolerance` outside `1..MAX_OUTPUT_TOLERANCE`.
    error InvalidTolerance(uint8 outputTolerance);
    /// @dev More than `MAX_REGIONS` regions.
    error TooManyRegions(uint256 count);
    /// @dev The job is not in a status that allows this call (`None` for an unknown job).
    error UnexpectedStatus(uint256 jobId, Status status);
    /// @dev The job's deadline has passed.
    error DeadlinePassed(uint64 deadline);
    /// @dev The job's deadline has not passed yet.
    error DeadlineNotPassed(uint64 deadline);
    /// @dev `assign` got `got` providers for a job of redundancy `expected`.
    error WrongProviderCount(uint256 expected, uint256 got);
    /// @dev `provider` appears twice in one assignment.
    error DuplicateProvider(address provider);
    /// @dev `provider` is not registered, paused, under-staked, or lacks free stake for the collateral.
    error ProviderNotEligible(address provider);
    /// @dev `provider`'s ask exceeds the job's `maxPricePerUnit`.
    error AskTooHigh(address provider, uint256 ask);
    /// @dev `provider` has less VRAM than the job requires.
    error InsufficientVram(address provider);
    /// @dev `provider`'s GPU model differs from the job's.
    error GpuModelMismatch(address provider);
    /// @dev `provider`'s region is not in the job's allowed set.
    error RegionNotAllowed(address provider);
    /// @dev `provider` failed to commit to `jobId` once (a no-show) and may not be assigned it again.
    error ProviderWasNoShow(uint256 jobId, address provider);
    /// @dev `provider` is a party to `jobId`'s dispute and may not judge it in the tie-break.
    error ProviderInDispute(uint256 jobId, address provider);
    /// @dev Providers may claim `jobId` only from `claimableAt`, once the matcher had its chance.
    error ClaimTooEarly(uint256 jobId, uint64 claimableAt);
    /// @dev `claimed` of `jobId`'s slots were claimed less than a commit window ago: the matcher may not assign it yet.
    error JobPartlyClaimed(uint256 jobId, uint256 claimed);
    /// @dev `provider` is not assigned to `jobId`.
    error NotAssigned(uint256 jobId, address provider);
    /// @dev A commitment must be non-zero.
    error ZeroCommitment();
    /// @dev `provider` already committed to `jobId`.
    error AlreadyCommitted(uint256 jobId, address provider);
    /// @dev The commit names `inputHash`, not the job's input: it was made for another job that had the id before a reorg.
    error InputMismatch(uint256 jobId, bytes32 inputHash);
    /// @dev The commit window closed at `commitDeadline`.
    error CommitWindowClosed(uint64 commitDeadline);
    /// @dev The commit window is still open until `commitDeadline`.
    error CommitWindowOpen(uint64 commitDeadline);
    /// @dev `provider` already revealed for `jobId`.
    error AlreadyRevealed(uint256 jobId, address provider);
    /// @dev The reveal window closed at `revealDeadline`.
    error RevealWindowClosed(uint64 revealDeadline);
    /// @dev The reveal window is still open until `revealDeadline` and not everyone revealed.
    error RevealWindowOpen(uint64 revealDeadline);
    /// @dev The reveal does not hash to the commitment.
    error CommitmentMismatch();
    /// @dev `caller` is not the job's requester.
    error NotRequester(address caller);
    /// @dev Nothing is owed to the caller.
    error NothingToWithdraw();
    /// @dev Revealed results differ and the window to prove a disagreement under tolerance is open until `until`.
    error ProofWindowOpen(uint64 until);
    /// @dev The window for this proof or request closed at `closedAt`.
    error ProofWindowClosed(uint64 closedAt);
    /// @dev `provider` revealed no result for `jobId` (nothing, or a failure code).
    error NotAResult(uint256 jobId, address provider);
    /// @dev The opening does not prove an element against `provider`'s fingerprint.
    error InvalidOpening(uint256 jobId, address provider);
    /// @dev The outputs of `a` and `b` agree at `index` under the job's tolerance: no disagreement to prove.
    error WithinTolerance(uint256 jobId, address a, address b, uint64 index);
    /// @dev `provider` was already asked to open an element of `jobId`.
    error OpeningAlreadyRequested(uint256 jobId, address provider);
    /// @dev `jobId` is not an optimistic job awaiting its challenge window, or it is already audited.
    error NotChallengeable(uint256 jobId);
    /// @dev The optimistic job's challenge window is open until `until`.
    error ChallengeWindowOpen(uint64 until);
    /// @dev The challenge window closed at `closedAt`.
    error ChallengeWindowClosed(uint64 closedAt);
    /// @dev The spot check is decided by the hash of block `decidedBy`, which is not mined yet.
    error SpotCheckPending(uint64 decidedBy);

    /**
     * @param token_ the TSR token (burnable).
     * @param registry_ the ProviderRegistry (this contract must be its JobMarket).
     * @param emissionController_ receives `recordJob` per paid provider; zero disables recording.
     * @param admin holds `DEFAULT_ADMIN_ROLE` (grants `MATCHER_ROLE`).
     * @param p take, collateral and slash shares in bps; commit, reveal and proof windows in seconds. A zero proof
     * window would let differing results settle before anyone could prove them apart, so it is refused; so are spot
     * checks that would let cheating pay: `p × (1 + m) ≤ 1` with `p = spotCheckBps / BPS` and
     * `m = optimisticCollateralBps / BPS` (PROTOCOL.md, "Optimistic verification and spot checks").
     */
    constructor(address token_, address registry_, address emissionController_, address admin, Params memory p) {
        if (token_ == address(0) || registry_ == address(0) || admin == address(0)) revert ZeroAddress();
        if (
            p.slashBeneficiaryBps > BPS || p.failureFeeBps > BPS || p.commitWindow == 0 || p.revealWindow == 0
                || p.proofWindow == 0 || p.challengeWindow == 0 || p.spotCheckBps > BPS
                || uint256(p.spotCheckBps) * (BPS + p.optimisticCollateralBps) <= BPS * BPS
        ) {
            revert InvalidParams();
        }
        _token = IERC20(token_);
        _registry = IProviderRegistry(registry_);
        _emissionController = IEmissionController(emissionController_);
        _checkTake(p.takeBps, p.minTake);
        _params = p;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Governance: sets the take τ (bps of the fees) and the least take a settled job burns, effective for every
     * later settlement. A job whose escrow was pulled at a lower take pays the higher one out of its refund, never past
     * its escrow. The other parameters are fixed at deploy.
     * Requirements: the caller has `GOVERNOR_ROLE`; `takeBps ≤ MAX_TAKE_BPS` and above the EmissionController's κ;
     * `minTake ≤ MAX_MIN_TAKE`.
     */
    function setTake(uint16 takeBps, uint256 minTake) external onlyRole(GOVERNOR_ROLE) {
        _checkTake(takeBps, minTake);
        _params.takeBps = takeBps;
        _params.minTake = minTake;
    }

    /// @dev Reverts `InvalidParams` unless `takeBps ≤ MAX_TAKE_BPS`, τ > κ (when recording) and `minTake ≤ MAX_MIN_TAKE`.
    function _checkTake(uint16 takeBps, uint256 minTake) private view {
        if (
            takeBps > MAX_TAKE_BPS || minTake > MAX_MIN_TAKE
                || (address(_emissionController) != address(0) && uint256(takeBps) * 1e14 <= _emissionController.kappa())
        ) revert InvalidParams();
    }

    // ---------------------------------------------------------------- requester

    /**
     * @notice Opens a job and pulls its escrow `value + value × takeBps / BPS`, where
     * `value = maxPricePerUnit × units × redundancy`; an Optimistic job (k = 1) escrows as k = 2 would, the second
     * execution held for an audit and refunded when none happens.
     * Requirements:
     * - `verification` is Redundant with `redundancy` in `2..16`, or Optimistic with `redundancy` 1;
     * - `units > 0`, `maxPricePerUnit > 0`, `deadline > block.timestamp`;
     * - `modelHash` and `inputHash` non-zero; `outputTolerance` in `1..23`; at most 16 regions;
     * - the caller approved this contract for the escrow.
     * @return jobId the new job's id (ids start at 1).
     */
    function submitJob(JobSpec calldata spec) external nonReentrant returns (uint256 jobId) {
        bool optimistic = spec.verification == uint8(Verification.Optimistic);
        if (!optimistic && spec.verification != uint8(Verification.Redundant)) revert UnsupportedVerification();
        if (
            optimistic ? spec.redundancy != 1 : spec.redundancy < MIN_REDUNDANCY || spec.redundancy > MAX_REDUNDANCY
        ) {
            revert InvalidRedundancy(spec.redundancy);
        }
        if (spec.units == 0) revert InvalidUnits();
        if (spec.maxPricePerUnit == 0) revert InvalidPrice();
        if (spec.deadline <= block.timestamp) revert InvalidDeadline(spec.deadline);
        if (spec.modelHash == bytes32(0) || spec.inputHash == bytes32(0)) revert InvalidHash();
        if (spec.outputTolerance == 0 || spec.outputTolerance > MAX_OUTPUT_TOLERANCE) {
            revert InvalidTolerance(spec.outputTolerance);
        }
        if (spec.regions.length > MAX_REGIONS) revert TooManyRegions(spec.regions.length);

        uint256 escrow = quoteEscrow(spec.maxPricePerUnit, spec.units, optimistic ? 2 : spec.redundancy);
        jobId = _nextJobId++;
        Job storage job = _jobs[jobId];
        job.spec = spec;
        job.requester = msg.sender;
        job.status = Status.Open;
        job.escrow = escrow;
        job.openedAt = uint64(block.timestamp);
        emit JobSubmitted(jobId, msg.sender, spec, escrow);

        _token.safeTransferFrom(msg.sender, address(this), escrow);
    }

    /**
     * @notice Cancels an unassigned job and credits its escrow back to the requester.
     * Requirements:
     * - the job is Open;
     * - the caller is its requester.
     */
    function cancel(uint256 jobId) external nonReentrant {
        Job storage job = _requireStatus(jobId, Status.Open);
        if (msg.sender != job.requester) revert NotRequester(msg.sender);
        job.status = Status.Cancelled;
        emit JobCancelled(jobId);
        _refund(jobId, job.requester, job.escrow);
        _releaseClaims(jobId, job);
    }

    /**
     * @notice Expires a job waiting for providers past its deadline and credits its escrow back. A Disputed job's
     * first-round providers are released, those that did not reveal losing their collateral. Anyone may call.
     * Requirements:
     * - the job is Open or Disputed;
     * - `block.timestamp > deadline`.
     */
    function expire(uint256 jobId) external nonReentrant {
        Job storage job = _requireWaiting(jobId);
        if (block.timestamp <= job.spec.deadline) revert DeadlineNotPassed(job.spec.deadline);
        job.status = Status.Expired;
        emit JobExpired(jobId);
        _refund(jobId, job.requester, job.escrow);
        _returnBond(jobId);
        _releaseUndecided(jobId, job.disputed);
        _releaseClaims(jobId, job);
    }

    // ---------------------------------------------------------------- matcher

    /**
     * @notice Assigns an Open job to `providers` (slot i to `providers[i]`), recording each one's
     * current ask and locking its collateral `ask × units × collateralBps / BPS` (`collateralOf`):
     * what a provider risks follows its own price, not the requester's `maxPricePerUnit`.
     * Requirements:
     * - the caller has `MATCHER_ROLE`;
     * - the job is Open (or Disputed: its tie-break) and `block.timestamp <= deadline`;
     * - `providers.length == redundancy`, all distinct, none a no-show of this job nor a party to its dispute;
     * - no slot claimed (`claimJob`) in the last commit window; older claims are released first;
     * - each provider is eligible for the collateral, asks at most `maxPricePerUnit`, has at least
     *   `minVramMiB`, the job's GPU model when it names one, and a region in `regions` when non-empty.
     */
    function assign(uint256 jobId, address[] calldata providers)
        external
        onlyRole(MATCHER_ROLE)
        nonReentrant
    {
        Job storage job = _requireWaiting(jobId);
        JobSpec storage spec = job.spec;
        if (block.timestamp > spec.deadline) revert DeadlinePassed(spec.deadline);
        if (providers.length != spec.redundancy) revert WrongProviderCount(spec.redundancy, providers.length);
        if (job.providers.length != 0) {
            // A partial claim may hold the matcher off for one commit window, no longer: a lone claimer can't freeze a job.
            if (block.timestamp <= job.firstClaimAt + _params.commitWindow) revert JobPartlyClaimed(jobId, job.providers.length);
            _releaseClaims(jobId, job);
        }

        job.claimed = false;
        for (uint256 i = 0; i < providers.length; ++i) {
            _takeSlot(jobId, job, providers[i]);
        }
        _startRound(jobId, job);
    }

    /**
     * @notice Claims a slot of a job the matcher has left waiting for `claimGrace` seconds (liveness without the
     * matcher), locking the caller's collateral as `assign` would; the k-th claim assigns the job (a `JobAssigned` per
     * slot, as from `assign`). A job settled by claimed slots earns no usage emissions, so claiming one's own jobs
     * farms nothing. Slots claimed while others stay empty are released when the job is cancelled or expires, or
     * when the matcher assigns it a commit window after the first claim.
     * Requirements:
     * - the job is Open or Disputed, `openedAt + claimGrace <= block.timestamp <= deadline`;
     * - the caller holds no slot of it, is no no-show of it nor a party to its dispute, and is eligible as for `assign`.
     */
    function claimJob(uint256 jobId) external nonReentrant {
        Job storage job = _requireWaiting(jobId);
        uint64 claimableAt = job.openedAt + _params.claimGrace;
        if (block.timestamp < claimableAt) revert ClaimTooEarly(jobId, claimableAt);
        if (block.timestamp > job.spec.deadline) revert DeadlinePassed(job.spec.deadline);

        if (job.providers.length == 0) job.firstClaimAt = uint64(block.timestamp);
        (uint256 ask, uint256 collateral) = _takeSlot(jobId, job, msg.sender);
        emit SlotClaimed(jobId, msg.sender, ask, collateral);
        if (job.providers.length == job.spec.redundancy) {
            job.claimed = true;
            _startRound(jobId, job);
        }
    }

    // ---------------------------------------------------------------- provider

    /**
     * @notice Commits `keccak256(abi.encode(jobId, provider, fingerprint, outputHash, salt))`.
     * The k-th commit moves the job to Committed and opens the reveal window.
     * `inputHash` names the input the result was computed on: a commit a reorg took out can be mined again later, when
     * a later submission has the job's id, and must not land on that other job (its provider could reveal nothing
     * matching it, and would be slashed).
     * Requirements:
     * - the job is Assigned and `block.timestamp <= commitDeadline`;
     * - `inputHash` is the job's input;
     * - the caller is assigned to it and has not committed;
     * - `commitment` is non-zero.
     */
    function commitResult(uint256 jobId, bytes32 inputHash, bytes32 commitment) external {
        Job storage job = _requireStatus(jobId, Status.Assigned);
        if (inputHash != job.spec.inputHash) revert InputMismatch(jobId, inputHash);
        Slot storage slot = _slots[jobId][msg.sender];
        if (!slot.assigned) revert NotAssigned(jobId, msg.sender);
        if (block.timestamp > job.commitDeadline) revert CommitWindowClosed(job.commitDeadline);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (slot.commitment != bytes32(0)) revert AlreadyCommitted(jobId, msg.sender);

        slot.commitment = commitment;
        uint256 commits = ++_commitCount[jobId];
        emit ResultCommitted(jobId, msg.sender, commitment);
        if (commits == job.providers.length) {
            uint64 revealDeadline = uint64(block.timestamp) + _params.revealWindow;
            job.status = Status.Committed;
            job.revealDeadline = revealDeadline;
            emit JobCommitted(jobId, revealDeadline);
        }
    }

    /**
     * @notice Reveals the committed result. The k-th reveal moves the job to Revealed and, unless the round is
     * optimistic or two revealed results differ (either of which makes `finalize` wait), settles it at once as
     * `finalize` would: a job whose providers agree takes no block more.
     * Requirements:
     * - the job is Committed and `block.timestamp <= revealDeadline`;
     * - the caller is assigned to it and has not revealed;
     * - `keccak256(abi.encode(jobId, msg.sender, fingerprint, outputHash, salt))` is its commitment.
     */
    function revealResult(uint256 jobId, bytes32 fingerprint, bytes32 outputHash, bytes32 salt) external {
        Job storage job = _requireStatus(jobId, Status.Committed);
        Slot storage slot = _slots[jobId][msg.sender];
        if (!slot.assigned) revert NotAssigned(jobId, msg.sender);
        if (block.timestamp > job.revealDeadline) revert RevealWindowClosed(job.revealDeadline);
        if (slot.revealed) revert AlreadyRevealed(jobId, msg.sender);
        if (keccak256(abi.encode(jobId, msg.sender, fingerprint, outputHash, salt)) != slot.commitment) {
            revert CommitmentMismatch();
        }

        slot.revealed = true;
        slot.fingerprint = fingerprint;
        slot.outputHash = outputHash;
        uint256 reveals = ++_revealCount[jobId];
        emit ResultRevealed(jobId, msg.sender, fingerprint, outputHash);
        if (reveals == job.providers.length) {
            job.status = Status.Revealed;
            // The reveal phase is over: the proof window (`finalize`) counts from now, as does an optimistic job's
            // challenge window; the next block's hash decides its spot check.
            job.revealDeadline = uint64(block.timestamp);
            emit JobRevealed(jobId);
            if (_isOptimisticRound(job)) _audits[jobId].revealBlock = uint64(block.number);
            else {
                // Settled here without `finalize`'s reentrancy guard (no room for it under EIP-170): the settlement
                // calls only the token, registry and controller this contract was built with, and none calls back.
                address[] memory providers = job.providers;
                if (!_resultsDiffer(jobId, providers, job.disputed)) _conclude(jobId, job, providers);
            }
        }
    }

    // ---------------------------------------------------------------- agreement under tolerance

    /**
     * @notice Proves element `index` of `provider`'s committed output (its fingerprint is the Merkle commitment
     * PROTOCOL.md describes) and records it, answering any request that `provider` open it. Anyone may call: an
     * honest provider's output is in the blob store, so anyone can open it.
     * Requirements:
     * - the job is Committed or Revealed and its proof window (`revealDeadline + proofWindow`) has not closed;
     * - `provider` revealed a result (not a failure code) in this round or the dispute's first round;
     * - `opening` proves its element against that fingerprint.
     */
    function openElement(uint256 jobId, address provider, Opening calldata opening) public {
        _requireProofWindow(jobId);
        Slot storage slot = _slots[jobId][provider];
        if (!slot.revealed || failureReasonOf(slot.fingerprint) != 0) revert NotAResult(jobId, provider);
        if (!_verifyOpening(slot.fingerprint, opening)) revert InvalidOpening(jobId, provider);
        uint32 word = _wordAt(opening);
        _opened[jobId][slot.fingerprint][opening.index] = uint256(word) + 1;
        _openedLength[jobId][slot.fingerprint] = uint256(opening.length) + 1;
        emit ElementOpened(jobId, provider, opening.index, word);
    }

    /**
     * @notice Proves that the outputs `a` and `b` committed disagree under the job's tolerance: their lengths differ,
     * or element `index` of each (opened here or before, `openElement`) is out of tolerance. `finalize` then never
     * counts the two as agreeing. Anyone may call; the keeper does, from the outputs in the blob store.
     * Requirements:
     * - as for `openElement`, for both; `a != b`;
     * - the lengths differ, or the openings are of the same index and its two words are out of tolerance.
     */
    function proveDisagreement(uint256 jobId, address a, Opening calldata openingA, address b, Opening calldata openingB)
        external
    {
        if (a == b) revert DuplicateProvider(a);
        openElement(jobId, a, openingA);
        openElement(jobId, b, openingB);
        if (openingA.length == openingB.length) {
            if (openingA.index != openingB.index) revert InvalidOpening(jobId, b);
            uint256 wordA = _wordAt(openingA);
            uint256 wordB = _wordAt(openingB);
            if (_withinTolerance(wordA, wordB, openingA.scale, openingB.scale, _jobs[jobId].spec.outputTolerance)) {
                revert WithinTolerance(jobId, a, b, openingA.index);
            }
        }
        bytes32 fa = _slots[jobId][a].fingerprint;
        bytes32 fb = _slots[jobId][b].fingerprint;
        _disagree[jobId][fa][fb] = true;
        _disagree[jobId][fb][fa] = true;
        emit DisagreementProven(jobId, a, b, openingA.index);
    }

    /**
     * @notice Asks `provider` to open element `index` of its output (`openElement`; the last element when `index` is
     * past its length) before the proof window closes. A provider that leaves it unanswered agrees with nobody at
     * `finalize` and is slashed: a result nobody can open, say because its output was never uploaded, can't be
     * checked, so it can't be paid. Anyone may ask, once per provider per job.
     * Requirements:
     * - the job is Committed or Revealed, in the first half of its proof window;
     * - `provider` revealed a result and was not asked before.
     */
    function requestOpening(uint256 jobId, address provider, uint64 index) external {
        uint64 asksUntil = _requireProofWindow(jobId) - _params.proofWindow / 2;
        if (block.timestamp > asksUntil) revert ProofWindowClosed(asksUntil);
        Slot storage slot = _slots[jobId][provider];
        if (!slot.revealed || failureReasonOf(slot.fingerprint) != 0) revert NotAResult(jobId, provider);
        OpeningRequest storage request = _openingRequests[jobId][provider];
        if (request.made) revert OpeningAlreadyRequested(jobId, provider);
        request.made = true;
        request.index = index;
        emit OpeningRequested(jobId, provider, index, asksUntil + _params.proofWindow / 2);
    }

    // ---------------------------------------------------------------- optimistic verification

    /**
     * @notice Challenges an optimistic job's result with a bond of `maxPricePerUnit × units × challengeBondBps / BPS`:
     * the job goes to an audit by a fresh provider (a tie-break by two more if the two disagree). If the result stands
     * the bond is lost, half to the provider and half burned; if not, the bond comes back, the provider is slashed and
     * the requester pays nothing for its result. Anyone may challenge.
     * Requirements:
     * - the job is Optimistic, Revealed by its provider and not audited yet;
     * - its challenge window (`challengeWindow` seconds from the reveal) is open;
     * - the caller approved this contract for the bond.
     */
    function challenge(uint256 jobId) external nonReentrant {
        Job storage job = _jobs[jobId];
        if (job.status != Status.Revealed || !_isOptimisticRound(job)) revert NotChallengeable(jobId);
        uint64 closesAt = job.revealDeadline + _params.challengeWindow;
        if (block.timestamp > closesAt) revert ChallengeWindowClosed(closesAt);
        uint256 bond = job.spec.maxPricePerUnit * job.spec.units * _params.challengeBondBps / BPS;
        Audit storage audit = _audits[jobId];
        audit.challenger = msg.sender;
        audit.bond = bond;
        emit Challenged(jobId, msg.sender, bond);
        _startAudit(jobId, job, job.providers, AuditKind.Challenge, 1);
        _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /**
     * @notice Whether an optimistic job's result is audited without a challenge: always when
     * `maxPricePerUnit × units ≥ auditThreshold` (Threshold); otherwise when
     * `keccak256(abi.encode(blockhash(revealBlock + 1), jobId)) mod BPS < spotCheckBps` (Spot), a hash nobody knew
     * when the job was assigned or revealed and that the caller of `finalize` can't choose. A hash no longer (or not
     * yet) readable counts as selected, so waiting 256 blocks skips no audit.
     */
    function spotCheckOf(uint256 jobId) public view returns (AuditKind) {
        JobSpec storage spec = _jobs[jobId].spec;
        if (spec.maxPricePerUnit * spec.units >= _params.auditThreshold) return AuditKind.Threshold;
        bytes32 seed = blockhash(_audits[jobId].revealBlock + 1);
        if (seed == bytes32(0) || uint256(keccak256(abi.encode(seed, jobId))) % BPS < _params.spotCheckBps) {
            return AuditKind.Spot;
        }
        return AuditKind.None;
    }

    // ---------------------------------------------------------------- keeper

    /**
     * @notice Settles a job by the strict majority (more than k/2) of the revealed fingerprints, a reported failure
     * counting as a fingerprint like any result:
     * - a result wins: the job completes; agreeing providers are paid their ask × units, the take is burned, the
     *   rest refunded;
     * - a deterministic failure wins (codes `1..DETERMINISTIC_FAILURES`): the job ends FailedInvalid; the reporters
     *   get `failureFeeBps` of their ask × units for their trouble, the take of that is burned, the rest refunded;
     * - in both cases everyone else (dissenters, non-revealers, and in a tie-break the first round's losers) is
     *   slashed, the beneficiary share split among all who revealed the winner in either round;
     * - a resource failure wins (out of memory, timeout: a property of those machines, not of the job): the job
     *   fails, revealers are released, non-revealers' collateral burned, the escrow refunded;
     * - no majority in the first round, with a reveal and the deadline still ahead: the job is Disputed and waits
     *   for a tie-break by k fresh providers, the first round's collateral still locked; its verdict settles both
     *   rounds. Otherwise no majority fails the job as a resource failure does.
     * Two results agree when their fingerprints are equal, or, when they differ, unless a disagreement under the
     * job's tolerance was proven between the two outputs (`proveDisagreement`, by any providers that committed them)
     * or one of the two providers left an opening request unanswered. So when
     * revealed results differ, `finalize` waits for the proof window, `proofWindow` seconds after the reveals.
     * Anyone may call.
     *
     * An Optimistic job's one revealed result is first spot-checked (`spotCheckOf`): a selected job goes to an audit
     * by one fresh provider (`AuditStarted`, the job Disputed) instead of settling. The audit's `finalize` settles
     * both when the auditor agrees with the original result (or never revealed: the original stands and the auditor is
     * slashed), and otherwise sends the two to a tie-break by two fresh providers, whose verdict settles all as above.
     * An unaudited optimistic job pays `spotCheckBps` of its fees into the audit fund (the premium); an audited one
     * (Spot or Challenge) is reimbursed from the fund what it paid beyond its provider's ask × units, all of it when
     * the original result lost.
     * Requirements:
     * - the job is Revealed, or Committed with `block.timestamp > revealDeadline`;
     * - when revealed results differ (in either round), `block.timestamp > revealDeadline + proofWindow`;
     * - an optimistic job's revealed result: block `revealBlock + 1` is mined, and unless selected for a spot check,
     *   its challenge window (`revealDeadline + challengeWindow`) has closed.
     */
    function finalize(uint256 jobId) external nonReentrant {
        Job storage job = _jobs[jobId];
        if (job.status == Status.Committed) {
            if (block.timestamp <= job.revealDeadline) revert RevealWindowOpen(job.revealDeadline);
        } else if (job.status != Status.Revealed) {
            revert UnexpectedStatus(jobId, job.status);
        }

        address[] memory providers = job.providers;
        uint64 proofsUntil = job.revealDeadline + _params.proofWindow;
        if (block.timestamp <= proofsUntil && _resultsDiffer(jobId, providers, job.disputed)) {
            revert ProofWindowOpen(proofsUntil);
        }
        if (job.status == Status.Revealed && _isOptimisticRound(job) && _spotCheck(jobId, job, providers)) return;
        _conclude(jobId, job, providers);
    }

    /// @dev `finalize` once its windows allow: the verdict of the round `providers` (the job's) revealed.
    function _conclude(uint256 jobId, Job storage job, address[] memory providers) private {
        (address winningProvider, uint256 agreeing) = _majority(jobId, providers);
        bool decided = agreeing > 0;
        if (_isAuditRound(job)) {
            address original = job.disputed[0];
            if (!decided) {
                // The auditor never revealed: the original result stands, the auditor is slashed.
                (winningProvider, decided) = (original, true);
            } else if (!_agrees(jobId, winningProvider, original)) {
                address[] memory parties = new address[](2);
                (parties[0], parties[1]) = (original, winningProvider);
                job.spec.redundancy = 2;
                _startAudit(jobId, job, parties, _audits[jobId].kind, 2);
                return;
            }
        }
        bytes32 winner = _slots[jobId][winningProvider].fingerprint;
        if (!decided && !job.tieBreak && _revealCount[jobId] > 0 && block.timestamp <= job.spec.deadline) {
            _dispute(jobId, job, providers);
        } else if (!decided || failureReasonOf(winner) > DETERMINISTIC_FAILURES) {
            _fail(jobId, job, providers, winner);
        } else {
            _settle(jobId, job, providers, winningProvider, agreeing);
        }
    }

    /**
     * @notice Ends an assignment whose commit window passed before every provider committed:
     * non-committers are slashed (their collateral burned whole, none of it to the requester, who
     * must not profit from an assignment it can make fail) and remembered as no-shows of this job,
     * committers are unlocked, and the job reopens (to Open, or to Disputed in a tie-break) if its
     * deadline has not passed, else expires with its escrow refunded and any dispute's first round released.
     * Requirements:
     * - the job is Assigned and `block.timestamp > commitDeadline`.
     */
    function expireAssignment(uint256 jobId) external nonReentrant {
        Job storage job = _requireStatus(jobId, Status.Assigned);
        if (block.timestamp <= job.commitDeadline) revert CommitWindowOpen(job.commitDeadline);

        address[] memory providers = job.providers;
        uint256[] memory collaterals = new uint256[](providers.length);
        bool[] memory committed = new bool[](providers.length);
        for (uint256 i = 0; i < providers.length; ++i) {
            Slot storage slot = _slots[jobId][providers[i]];
            collaterals[i] = slot.collateral;
            committed[i] = slot.commitment != bytes32(0);
            if (!committed[i]) {
                _noShow[jobId][providers[i]] = true;
                emit NoShow(jobId, providers[i]);
            } else {
                emit SlotSettled(jobId, providers[i], Outcome.Released);
            }
            delete _slots[jobId][providers[i]];
        }
        delete job.providers;
        delete _commitCount[jobId];
        job.commitDeadline = 0;

        bool reopened = block.timestamp <= job.spec.deadline;
        job.status = reopened ? (job.tieBreak ? Status.Disputed : Status.Open) : Status.Expired;
        job.openedAt = uint64(block.timestamp);
        emit AssignmentExpired(jobId, reopened);
        if (!reopened) {
            emit JobExpired(jobId);
            _refund(jobId, job.requester, job.escrow);
            _returnBond(jobId);
        }

        _releaseCollateral(jobId, providers, collaterals, committed, 0);
        if (!reopened) _releaseUndecided(jobId, job.disputed);
    }

    /**
     * @notice Pays the caller everything credited to it.
     * Requirements:
     * - something is owed to the caller.
     */
    function withdraw() external nonReentrant {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        _owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice A job with its spec, requester, status, escrow, deadlines and assigned providers.
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @notice A job's requester and status, for contracts that need no more of it (ChallengeLedger).
    function requesterAndStatusOf(uint256 jobId) external view returns (address requester, uint8 status) {
        Job storage job = _jobs[jobId];
        return (job.requester, uint8(job.status));
    }

    /// @notice `provider`'s slot in the job's current assignment (all zero when not assigned).
    function getSlot(uint256 jobId, address provider) external view returns (Slot memory) {
        return _slots[jobId][provider];
    }


    /// @notice Collateral a slot locks for a provider asking `ask` per unit: `ask × units × collateralBps / BPS`, with
    /// `optimisticCollateralBps` for an Optimistic job (verification 1).
    function collateralOf(uint256 ask, uint64 units, uint8 verification) public view returns (uint256) {
        bool optimistic = verification == uint8(Verification.Optimistic);
        return ask * units * (optimistic ? _params.optimisticCollateralBps : _params.collateralBps) / BPS;
    }

    /// @notice An optimistic job's audit (kind None while unaudited), with its reveal block and any challenge bond.
    function getAudit(uint256 jobId) external view returns (Audit memory) {
        return _audits[jobId];
    }

    /// @notice Premiums held to pay for spot checks and challenges.
    function auditFund() external view returns (uint256) {
        return _auditFund;
    }

    /// @notice The failure code a revealed fingerprint reports (`1..FAILURE_REASONS`), 0 for a result.
    function failureReasonOf(bytes32 fingerprint) public pure returns (uint256) {
        uint256 code = uint256(fingerprint);
        return code <= FAILURE_REASONS ? code : 0;
    }

    /// @notice Balance `account` can `withdraw`.
    function owed(address account) external view returns (uint256) {
        return _owed[account];
    }

    /// @notice Escrow `submitJob` pulls: `value + take(value)` (see `_takeOf`), `value = price × units × k`.
    function quoteEscrow(uint256 maxPricePerUnit, uint64 units, uint8 redundancy) public view returns (uint256) {
        uint256 value = maxPricePerUnit * units * redundancy;
        return value + _takeOf(value);
    }

    /// @dev The take burned when a job settles with `fees` paid: `fees × takeBps / BPS` rounded up, at least `minTake`.
    function _takeOf(uint256 fees) private view returns (uint256) {
        uint256 take = Math.ceilDiv(fees * _params.takeBps, BPS);
        return take < _params.minTake ? _params.minTake : take;
    }

    /// @notice The id the next submitted job gets.
    function nextJobId() external view returns (uint256) {
        return _nextJobId;
    }

    /// @notice Take, collateral and slash shares (bps) and the commit and reveal windows (s).
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice The TSR token.
    function token() external view returns (address) {
        return address(_token);
    }

    /// @notice The ProviderRegistry.
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice The EmissionController (zero when recording is disabled).
    function emissionController() external view returns (address) {
        return address(_emissionController);
    }

    // ---------------------------------------------------------------- internals

    function _requireStatus(uint256 jobId, Status expected) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status != expected) revert UnexpectedStatus(jobId, job.status);
    }

    /// @dev The job, which waits for providers (Open, or Disputed: its tie-break).
    function _requireWaiting(uint256 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status != Status.Open && job.status != Status.Disputed) revert UnexpectedStatus(jobId, job.status);
    }

    /// @dev Gives `provider` the job's next slot: checks it may take one, records its ask, locks its collateral.
    function _takeSlot(uint256 jobId, Job storage job, address provider) private returns (uint256 ask, uint256 collateral) {
        Slot storage slot = _slots[jobId][provider];
        if (slot.assigned) revert DuplicateProvider(provider);
        if (_noShow[jobId][provider]) revert ProviderWasNoShow(jobId, provider);
        address[] storage disputed = job.disputed;
        for (uint256 d = 0; d < disputed.length; ++d) {
            if (disputed[d] == provider) revert ProviderInDispute(jobId, provider);
        }
        (ask, collateral) = _checkProvider(job.spec, provider);
        slot.assigned = true;
        slot.ask = ask;
        slot.collateral = collateral;
        job.providers.push(provider);
        _registry.lock(provider, jobId, collateral);
    }

    /// @dev Every slot is taken: the job is Assigned and its commit window opens, one `JobAssigned` per slot.
    function _startRound(uint256 jobId, Job storage job) private {
        uint64 commitDeadline = uint64(block.timestamp) + _params.commitWindow;
        job.status = Status.Assigned;
        job.commitDeadline = commitDeadline;
        address[] storage providers = job.providers;
        for (uint256 i = 0; i < providers.length; ++i) {
            Slot storage slot = _slots[jobId][providers[i]];
            emit JobAssigned(jobId, providers[i], uint8(i), slot.ask, slot.collateral, commitDeadline);
        }
    }

    /// @dev Releases the slots claimed of a job that never filled them all (it is cancelled or expires).
    function _releaseClaims(uint256 jobId, Job storage job) private {
        address[] memory claimers = job.providers;
        for (uint256 i = 0; i < claimers.length; ++i) {
            uint256 collateral = _slots[jobId][claimers[i]].collateral;
            delete _slots[jobId][claimers[i]];
            emit SlotSettled(jobId, claimers[i], Outcome.Released);
            _registry.unlock(claimers[i], jobId, collateral);
        }
        delete job.providers;
    }

    function _credit(address account, uint256 amount) private {
        _owed[account] += amount;
    }

    /// @dev The part of a slashed `amount` credited to the honest side: `amount × slashBeneficiaryBps / BPS`, rounded down
    /// as the registry's `slash` rounds it.
    function _beneficiaryShare(uint256 amount) private view returns (uint256) {
        return amount * _params.slashBeneficiaryBps / BPS;
    }

    /// @dev Credits `amount` back to the job's requester and says so.
    function _refund(uint256 jobId, address requester, uint256 amount) private {
        _credit(requester, amount);
        emit Refunded(jobId, requester, amount);
    }

    /// @dev Checks `provider` against the spec and returns its ask and the collateral it locks.
    function _checkProvider(JobSpec storage spec, address provider)
        private
        view
        returns (uint256 ask, uint256 collateral)
    {
        IProviderRegistry.Provider memory p = _registry.getProvider(provider);
        ask = p.pricePerUnit;
        collateral = collateralOf(ask, spec.units, spec.verification);
        if (!_registry.isEligible(provider, collateral)) revert ProviderNotEligible(provider);
        if (ask > spec.maxPricePerUnit) revert AskTooHigh(provider, ask);
        if (p.hardware.vramMiB < spec.minVramMiB) revert InsufficientVram(provider);
        if (spec.gpuModel != 0 && p.hardware.gpuModel != spec.gpuModel) revert GpuModelMismatch(provider);
        uint256 regionCount = spec.regions.length;
        if (regionCount > 0) {
            bool allowed = false;
            for (uint256 r = 0; r < regionCount; ++r) {
                if (spec.regions[r] == p.region) {
                    allowed = true;
                    break;
                }
            }
            if (!allowed) revert RegionNotAllowed(provider);
        }
    }

    /**
     * @dev The first provider that more than half of the k providers (itself included) agree with (`_agrees`), and
     * how many do; (0, 0) if none.
     */
    function _majority(uint256 jobId, address[] memory providers) private view returns (address winner, uint256 count) {
        uint256 k = providers.length;
        for (uint256 i = 0; i < k; ++i) {
            if (!_slots[jobId][providers[i]].revealed) continue;
            uint256 n = 0;
            for (uint256 j = 0; j < k; ++j) {
                if (_agrees(jobId, providers[i], providers[j])) ++n;
            }
            if (2 * n > k) return (providers[i], n);
        }
        return (address(0), 0);
    }

    /**
     * @dev Whether `x` and `y` revealed agreeing results: the same fingerprint (a failure code only matches itself),
     * or two results that differ but were not proven to disagree under the tolerance and whose providers each
     * answered any opening request.
     */
    function _agrees(uint256 jobId, address x, address y) private view returns (bool) {
        Slot storage a = _slots[jobId][x];
        Slot storage b = _slots[jobId][y];
        if (!a.revealed || !b.revealed) return false;
        if (a.fingerprint == b.fingerprint) return true;
        if (failureReasonOf(a.fingerprint) != 0 || failureReasonOf(b.fingerprint) != 0) return false;
        return !_disagree[jobId][a.fingerprint][b.fingerprint] && _answered(jobId, x) && _answered(jobId, y);
    }

    /// @dev The word an opening opens: big-endian word `index % 8` of its chunk.
    function _wordAt(Opening calldata opening) private pure returns (uint32) {
        return uint32(uint256(opening.chunk) >> (32 * (WORDS_PER_CHUNK - 1 - opening.index % WORDS_PER_CHUNK)));
    }

    /// @dev Whether `provider` opened the element it was asked to (or was never asked).
    function _answered(uint256 jobId, address provider) private view returns (bool) {
        OpeningRequest storage request = _openingRequests[jobId][provider];
        if (!request.made) return true;
        bytes32 fingerprint = _slots[jobId][provider].fingerprint;
        uint256 lengthPlusOne = _openedLength[jobId][fingerprint];
        if (lengthPlusOne == 0) return false;
        uint256 last = lengthPlusOne > 1 ? lengthPlusOne - 2 : 0;
        return _opened[jobId][fingerprint][request.index < last ? request.index : uint64(last)] != 0;
    }

    /// @dev Whether two revealed results (not failure codes) of either round have different fingerprints.
    function _resultsDiffer(uint256 jobId, address[] memory providers, address[] memory prior) private view returns (bool) {
        bytes32 first = bytes32(0);
        for (uint256 r = 0; r < 2; ++r) {
            address[] memory round = r == 0 ? prior : providers;
            for (uint256 i = 0; i < round.length; ++i) {
                Slot storage slot = _slots[jobId][round[i]];
                if (!slot.revealed || failureReasonOf(slot.fingerprint) != 0) continue;
                if (first == bytes32(0)) first = slot.fingerprint;
                else if (slot.fingerprint != first) return true;
            }
        }
        return false;
    }

    /// @dev The job's proof window closes at `revealDeadline + proofWindow`; reverts unless the job is Committed or
    /// Revealed and the window is open. Returns when it closes.
    function _requireProofWindow(uint256 jobId) private view returns (uint64 closesAt) {
        Job storage job = _jobs[jobId];
        if (job.status != Status.Committed && job.status != Status.Revealed) revert UnexpectedStatus(jobId, job.status);
        closesAt = job.revealDeadline + _params.proofWindow;
        if (block.timestamp > closesAt) revert ProofWindowClosed(closesAt);
    }

    /**
     * @dev Whether `opening` proves an element against `fingerprint`: the leaf `sha256(0x00 ‖ chunk)` folded up the
     * path with `sha256(0x01 ‖ left ‖ right)`, sides chosen by the chunk's position, to `root`, and
     * `fingerprint == sha256(0x02 ‖ length ‖ scale ‖ root)`. The path is exactly as long as the length implies, so
     * each position holds one chunk. An empty output opens index 0 of its one zero chunk.
     */
    function _verifyOpening(bytes32 fingerprint, Opening calldata opening) private pure returns (bool) {
        uint256 length = opening.length;
        if (opening.index >= length && !(length == 0 && opening.index == 0)) return false;
        uint256 chunks = length == 0 ? 1 : (length + WORDS_PER_CHUNK - 1) / WORDS_PER_CHUNK;
        uint256 depth = 0;
        while ((1 << depth) < chunks) ++depth;
        if (opening.proof.length != depth) return false;
        bytes32 node = sha256(abi.encodePacked(bytes1(0x00), opening.chunk));
        uint256 position = opening.index / WORDS_PER_CHUNK;
        for (uint256 i = 0; i < depth; ++i) {
            node = position & 1 == 0
                ? sha256(abi.encodePacked(bytes1(0x01), node, opening.proof[i]))
                : sha256(abi.encodePacked(bytes1(0x01), opening.proof[i], node));
            position >>= 1;
        }
        return sha256(abi.encodePacked(bytes1(0x02), opening.length, opening.scale, node)) == fingerprint;
    }

    /**
     * @dev Element-wise agreement of two float32 words (protocol/agreement.ts `withinTolerance`): equal words agree,
     * NaN agrees with NaN, other non-finite values with nothing else; finite values agree when
     * `|a − b| × 2^t ≤ (min(scaleA, scaleB) + max(|a|, |b|)) × 2^TOLERANCE_SLACK_BITS`, in fixed point.
     */
    function _withinTolerance(uint256 a, uint256 b, uint32 scaleA, uint32 scaleB, uint8 toleranceBits)
        private
        pure
        returns (bool)
    {
        if (a == b) return true;
        bool nanA = a & 0x7f800000 == 0x7f800000 && a & 0x7fffff != 0;
        bool nanB = b & 0x7f800000 == 0x7f800000 && b & 0x7fffff != 0;
        if (nanA && nanB) return true;
        if (a & 0x7f800000 == 0x7f800000 || b & 0x7f800000 == 0x7f800000) return false;
        int256 fa = _fixedPoint(a);
        int256 fb = _fixedPoint(b);
        int256 sa = _fixedPoint(scaleA & 0x7fffffff);
        int256 sb = _fixedPoint(scaleB & 0x7fffffff);
        uint256 scale = uint256(sa < sb ? sa : sb);
        uint256 ua = uint256(fa < 0 ? -fa : fa);
        uint256 ub = uint256(fb < 0 ? -fb : fb);
        uint256 diff = uint256(fa - fb < 0 ? fb - fa : fa - fb);
        return diff << toleranceBits <= (scale + (ua > ub ? ua : ub)) << TOLERANCE_SLACK_BITS;
    }

    /// @dev A float32 word's value × 2^FIXED_POINT_BITS, truncated toward zero.
    function _fixedPoint(uint256 word) private pure returns (int256) {
        uint256 exponent = (word >> 23) & 0xff;
        uint256 mantissa = exponent == 0 ? word & 0x7fffff : (word & 0x7fffff) | 0x800000;
        int256 shift = int256(exponent == 0 ? 1 : exponent) - 150 + int256(FIXED_POINT_BITS);
        uint256 magnitude = shift >= 0 ? mantissa << uint256(shift) : mantissa >> uint256(-shift);
        return word >> 31 == 1 ? -int256(magnitude) : int256(magnitude);
    }

    /**
     * @dev No first-round majority: the first round waits, collateral locked, for a tie-break by fresh providers.
     * Its slots are kept for the verdict but no longer assigned, so none of them can commit or reveal again.
     */
    function _dispute(uint256 jobId, Job storage job, address[] memory providers) private {
        job.status = Status.Disputed;
        job.tieBreak = true;
        job.disputed = providers;
        delete job.providers;
        delete _commitCount[jobId];
        delete _revealCount[jobId];
        job.commitDeadline = 0;
        job.revealDeadline = 0;
        job.openedAt = uint64(block.timestamp);
        for (uint256 i = 0; i < providers.length; ++i) {
            _slots[jobId][providers[i]].assigned = false;
        }
        emit JobDisputed(jobId);
    }

    /// @dev An optimistic job before any audit: its one provider's round.
    function _isOptimisticRound(Job storage job) private view returns (bool) {
        return job.spec.verification == uint8(Verification.Optimistic) && job.disputed.length == 0;
    }

    /// @dev An optimistic job in its audit round: one auditor judging the original provider (`disputed[0]`).
    function _isAuditRound(Job storage job) private view returns (bool) {
        return job.spec.verification == uint8(Verification.Optimistic) && job.disputed.length == 1;
    }

    /**
     * @dev An optimistic job's revealed result at `finalize`: starts its audit when `spotCheckOf` selects it (true);
     * otherwise requires the challenge window to have closed (false: settle it as it stands).
     */
    function _spotCheck(uint256 jobId, Job storage job, address[] memory providers) private returns (bool) {
        uint64 decidedBy = _audits[jobId].revealBlock + 1;
        if (block.number <= decidedBy) revert SpotCheckPending(decidedBy);
        AuditKind kind = spotCheckOf(jobId);
        if (kind != AuditKind.None) {
            _startAudit(jobId, job, providers, kind, 1);
            return true;
        }
        uint64 until = job.revealDeadline + _params.challengeWindow;
        if (block.timestamp <= until) revert ChallengeWindowOpen(until);
        return false;
    }

    /**
     * @dev Sends `parties`' results to `auditors` fresh providers (as a dispute does), the deadline pushed out so the
     * audit has time to run: an audit that expired would let a late cheater escape it.
     */
    function _startAudit(uint256 jobId, Job storage job, address[] memory parties, AuditKind kind, uint8 auditors)
        private
    {
        _audits[jobId].kind = kind;
        _dispute(jobId, job, parties);
        Params storage p = _params;
        uint64 auditBy = uint64(block.timestamp) + p.claimGrace + p.commitWindow + p.revealWindow + p.proofWindow;
        if (job.spec.deadline < auditBy) job.spec.deadline = auditBy;
        emit AuditStarted(jobId, uint8(kind), auditors, job.spec.deadline);
    }

    /// @dev A challenged job ended without a verdict (failed or expired): the challenger gets its bond back.
    function _returnBond(uint256 jobId) private {
        Audit storage audit = _audits[jobId];
        uint256 bond = audit.bond;
        if (bond == 0) return;
        audit.bond = 0;
        _credit(audit.challenger, bond);
        emit AuditSettled(jobId, 0, 0, 0, 0, bond);
    }

    /**
     * @dev An optimistic job settled with a verdict; `refund` is what the requester would get back, `fees` what the
     * providers were paid, `originalWon` whether the original provider's result won and `originalCost` its ask × units
     * (or failure fee) when it did, else 0. Unaudited: `spotCheckBps` of the fees goes from the refund into the audit
     * fund. Spot-checked or challenged: the fund reimburses, as far as it holds, the fees beyond `originalCost` with
     * their take. A challenge bond goes half to the original provider and half to the burn when its result won, back to
     * the challenger otherwise.
     * Returns the requester's refund.
     */
    function _settleAudit(
        uint256 jobId,
        address original,
        uint256 refund,
        uint256 fees,
        bool originalWon,
        uint256 originalCost
    ) private returns (uint256) {
        Audit storage audit = _audits[jobId];
        uint256 premium = 0;
        uint256 reimbursed = 0;
        if (audit.kind == AuditKind.None) {
            premium = fees * _params.spotCheckBps / BPS;
            _auditFund += premium;
        } else if (audit.kind != AuditKind.Threshold) {
            uint256 extra = fees > originalCost ? fees - originalCost : 0;
            extra += extra * _params.takeBps / BPS;
            reimbursed = extra < _auditFund ? extra : _auditFund;
            _auditFund -= reimbursed;
        }
        uint256 bond = audit.bond;
        uint256 toProvider = 0;
        uint256 bondBurned = 0;
        if (bond > 0) {
            audit.bond = 0;
            if (originalWon) {
                toProvider = bond / 2;
                bondBurned = bond - toProvider;
                _credit(original, toProvider);
            } else {
                _credit(audit.challenger, bond);
            }
        }
        emit AuditSettled(jobId, premium, reimbursed, toProvider, bondBurned, originalWon ? 0 : bond);
        if (bondBurned > 0) ERC20Burnable(address(_token)).burn(bondBurned);
        return refund + reimbursed - premium;
    }

    /**
     * @dev A result or a deterministic failure won (in the deciding round, `providers`): pays the deciding round's
     * winners (their ask × units, or the failure fee), slashes every loser of both rounds and splits the beneficiary
     * share among every winner of both rounds, burns the take, refunds the rest. In an optimistic job's audit round the
     * original provider, when it agrees, is paid as well; an optimistic job's audit money moves last (`_settleAudit`).
     */
    function _settle(uint256 jobId, Job storage job, address[] memory providers, address winningProvider, uint256 agreeing)
        private
    {
        bytes32 winner = _slots[jobId][winningProvider].fingerprint;
        address[] memory prior = job.disputed;
        bool invalid = failureReasonOf(winner) != 0;
        uint256 units = job.spec.units;
        uint256 k = providers.length;
        bool[] memory agrees = new bool[](k);
        uint256[] memory collaterals = new uint256[](k);
        bool[] memory priorAgrees = new bool[](prior.length);
        uint256[] memory priorCollaterals = new uint256[](prior.length);
        uint256 honest = agreeing;
        uint256 slashPool = 0;
        for (uint256 i = 0; i < k; ++i) {
            agrees[i] = _agrees(jobId, winningProvider, providers[i]);
            collaterals[i] = _slots[jobId][providers[i]].collateral;
            if (!agrees[i]) slashPool += _beneficiaryShare(collaterals[i]);
        }
        for (uint256 i = 0; i < prior.length; ++i) {
            priorAgrees[i] = _agrees(jobId, winningProvider, prior[i]);
            priorCollaterals[i] = _slots[jobId][prior[i]].collateral;
            if (priorAgrees[i]) ++honest;
            else slashPool += _beneficiaryShare(priorCollaterals[i]);
        }
        uint256 share = slashPool / honest;

        Status status = invalid ? Status.FailedInvalid : Status.Completed;
        job.status = status;
        bool optimistic = job.spec.verification == uint8(Verification.Optimistic);
        bool payPrior = optimistic && prior.length == 1;
        uint256 fees = 0;
        for (uint256 i = 0; i < k; ++i) {
            if (agrees[i]) fees += _pay(jobId, providers[i], units, invalid, share);
        }
        for (uint256 i = 0; i < prior.length; ++i) {
            if (!priorAgrees[i]) continue;
            if (payPrior) fees += _pay(jobId, prior[i], units, invalid, share);
            else _creditShare(jobId, prior[i], share);
        }
        // A take raised by governance after the escrow was pulled is held to what the escrow still covers.
        uint256 take = Math.min(_takeOf(fees), job.escrow - fees);
        emit FeeBurned(jobId, take);
        uint256 refund = job.escrow - fees - take + (slashPool - share * honest);
        if (optimistic) {
            address original = prior.length > 0 ? prior[0] : providers[0];
            bool originalWon = prior.length > 0 ? priorAgrees[0] : agrees[0];
            uint256 originalCost = 0;
            if (originalWon) {
                originalCost = _slots[jobId][original].ask * units;
                if (invalid) originalCost = originalCost * _params.failureFeeBps / BPS;
            }
            refund = _settleAudit(jobId, original, refund, fees, originalWon, originalCost);
        }
        _refund(jobId, job.requester, refund);
        emit JobFinalized(jobId, uint8(status), winner, fees, take, refund);

        _settleSlots(jobId, prior, priorCollaterals, priorAgrees, _params.slashBeneficiaryBps);
        _settleSlots(jobId, providers, collaterals, agrees, _params.slashBeneficiaryBps);
        if (take > 0) ERC20Burnable(address(_token)).burn(take);
        // A claimed job earns no usage emissions: its providers picked it themselves (self-dealing defence).
        if (!invalid && !job.claimed && address(_emissionController) != address(0)) {
            for (uint256 i = 0; i < k; ++i) {
                if (agrees[i]) {
                    _emissionController.recordJob(providers[i], _slots[jobId][providers[i]].ask * units, units);
                }
            }
            if (payPrior && priorAgrees[0]) {
                _emissionController.recordJob(prior[0], _slots[jobId][prior[0]].ask * units, units);
            }
        }
    }

    /// @dev Credits `provider` its ask × units (the failure fee when `invalid`) and its slash `share`; returns the pay.
    function _pay(uint256 jobId, address provider, uint256 units, bool invalid, uint256 share) private returns (uint256 pay) {
        pay = _slots[jobId][provider].ask * units;
        if (invalid) pay = pay * _params.failureFeeBps / BPS;
        _credit(provider, pay);
        emit ProviderPaid(jobId, provider, pay);
        _creditShare(jobId, provider, share);
    }

    /// @dev Credits `provider` its `share` of the slashes, when there is one.
    function _creditShare(uint256 jobId, address provider, uint256 share) private {
        if (share == 0) return;
        _credit(provider, share);
        emit SlashShareCredited(jobId, provider, share);
    }

    /**
     * @dev No verdict (no majority, or a resource failure won): the escrow is refunded exactly; revealers of either
     * round are released, non-revealers' collateral is burned whole (no honest side to pay).
     */
    function _fail(uint256 jobId, Job storage job, address[] memory providers, bytes32 winner) private {
        job.status = Status.Failed;
        _refund(jobId, job.requester, job.escrow);
        emit JobFinalized(jobId, uint8(Status.Failed), winner, 0, 0, job.escrow);
        _returnBond(jobId);
        _releaseUndecided(jobId, job.disputed);
        _releaseUndecided(jobId, providers);
    }

    /// @dev Releases the revealers among `providers` and burns the others' collateral: nobody judged them.
    function _releaseUndecided(uint256 jobId, address[] memory providers) private {
        uint256 k = providers.length;
        bool[] memory revealed = new bool[](k);
        uint256[] memory collaterals = new uint256[](k);
        for (uint256 i = 0; i < k; ++i) {
            Slot storage slot = _slots[jobId][providers[i]];
            revealed[i] = slot.revealed;
            collaterals[i] = slot.collateral;
        }
        _settleSlots(jobId, providers, collaterals, revealed, 0);
    }

    /**
     * @dev Settles each of `providers` (`SlotSettled`) and ends `jobId`'s hold on its collateral: released where
     * `keep[i]` (Agreed when there is a beneficiary, else Released), otherwise slashed (Dissented, or NoReveal
     * without a reveal).
     */
    function _settleSlots(
        uint256 jobId,
        address[] memory providers,
        uint256[] memory collaterals,
        bool[] memory keep,
        uint256 beneficiaryBps
    ) private {
        Status status = _jobs[jobId].status;
        bool judged = status == Status.Completed || status == Status.FailedInvalid;
        for (uint256 i = 0; i < providers.length; ++i) {
            Outcome outcome;
            if (keep[i]) outcome = judged ? Outcome.Agreed : Outcome.Released;
            else outcome = _slots[jobId][providers[i]].revealed ? Outcome.Dissented : Outcome.NoReveal;
            emit SlotSettled(jobId, providers[i], outcome);
        }
        _releaseCollateral(jobId, providers, collaterals, keep, beneficiaryBps);
    }

    /**
     * @dev Ends `jobId`'s hold on each provider's collateral, in slot order: unlocked where `keep[i]`, otherwise
     * slashed with `beneficiaryBps` of it transferred to this contract (the caller already credited that share) and
     * the rest burned.
     */
    function _releaseCollateral(
        uint256 jobId,
        address[] memory providers,
        uint256[] memory collaterals,
        bool[] memory keep,
        uint256 beneficiaryBps
    ) private {
        for (uint256 i = 0; i < providers.length; ++i) {
            if (keep[i]) {
                _registry.unlock(providers[i], jobId, collaterals[i]);
            } else {
                _registry.slash(providers[i], jobId, collaterals[i], address(this), beneficiaryBps);
            }
        }
    }
}
