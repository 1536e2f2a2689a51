// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IEmissionController} from "./interfaces/IEmissionController.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/**
 * @title ChallengeLedger
 * @notice The record of known-answer challenge jobs: optimistic jobs the protocol's issuer submits to each active
 * provider, with a model and input derived from a seed whose hash it commits here before the round and reveals after
 * it, so anyone can check afterwards that each challenge was what the seed says (`protocol/challengeJobs.ts`). Nothing
 * names a job a challenge until that job has settled in JobMarket: a provider watching the chain can't tell a
 * challenge in flight from a paid job. A wrong answer is judged through JobMarket (the issuer challenges the result
 * and fresh providers audit it), never on the issuer's word. This ledger records each outcome and the throughput the
 * provider showed, which is its attested capacity, and passes both to the JobMarket's EmissionController: a passed
 * challenge is what makes a provider an availability recipient, weighted by that capacity and its stake at risk. A
 * failure the audit confirmed (the provider revealed a result, fresh providers re-ran the job and the JobMarket slashed
 * the provider) costs the provider the rest of its stake through the registry, so that a fake GPU expects to lose
 * more than it earns (ECONOMICS.md, S9). A provider that never revealed loses only the job's collateral.
 */
contract ChallengeLedger is AccessControl {
    /// @notice Role that commits rounds, records challenges and reveals seeds (the server's issuer key).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    struct Round {
        bytes32 seedHash;
        bytes32 seed;
        uint64 committedAt;
        bool revealed;
    }

    IJobMarket private immutable _jobMarket;
    IEmissionController private immutable _emissionController;
    IProviderRegistry private immutable _registry;
    uint64 private _lastRound;
    mapping(uint64 round => Round) private _rounds;
    mapping(uint256 jobId => uint64 round) private _recordedIn;

    event RoundCommitted(uint64 indexed round, bytes32 seedHash);
    event ChallengeRecorded(
        uint64 indexed round, uint256 indexed jobId, address indexed provider, bool passed, uint64 unitsPerHour
    );
    event RoundRevealed(uint64 indexed round, bytes32 seed);
    /// @notice `provider`'s failure of challenge `jobId` was confirmed by its audit and cost it `amount` of stake.
    event ChallengeFailureSlashed(uint64 indexed round, uint256 indexed jobId, address indexed provider, uint256 amount);

    /// @dev A required address is zero.
    error ZeroAddress();
    /// @dev The seed hash is zero.
    error ZeroSeedHash();
    /// @dev `round` was never committed.
    error UnknownRound(uint64 round);
    /// @dev `round`'s seed is revealed: it takes no more records.
    error RoundRevealedAlready(uint64 round);
    /// @dev `jobId` was recorded already, in `round`.
    error AlreadyRecorded(uint256 jobId, uint64 round);
    /// @dev `jobId` was not submitted by the caller.
    error NotIssuersJob(uint256 jobId);
    /// @dev `jobId` is still live in JobMarket (status `status`): its outcome is not final.
    error JobNotSettled(uint256 jobId, uint8 status);
    /// @dev `keccak256(abi.encode(seed))` is not the round's seed hash.
    error SeedMismatch(uint64 round);
    /// @dev `passed` was claimed for `provider`, whom the JobMarket slashed in `jobId`.
    error PassContradictsVerdict(uint256 jobId, address provider);

    /**
     * @param jobMarket_ the JobMarket whose jobs are recorded; its EmissionController (if any) is told each outcome and
     * must have this ledger set (`setChallengeLedger`), and so must its ProviderRegistry (to slash confirmed failures).
     * @param admin holds `DEFAULT_ADMIN_ROLE` (grants `ISSUER_ROLE`).
     */
    constructor(address jobMarket_, address admin) {
        if (jobMarket_ == address(0) || admin == address(0)) revert ZeroAddress();
        _jobMarket = IJobMarket(jobMarket_);
        _emissionController = IEmissionController(IJobMarket(jobMarket_).emissionController());
        _registry = IProviderRegistry(IJobMarket(jobMarket_).registry());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /**
     * @notice Opens the next round, committing to its seed: `seedHash = keccak256(abi.encode(seed))`.
     * @return round the new round's number (rounds count from 1).
     */
    function commitRound(bytes32 seedHash) external onlyRole(ISSUER_ROLE) returns (uint64 round) {
        if (seedHash == bytes32(0)) revert ZeroSeedHash();
        round = ++_lastRound;
        _rounds[round] = Round({seedHash: seedHash, seed: bytes32(0), committedAt: uint64(block.timestamp), revealed: false});
        emit RoundCommitted(round, seedHash);
    }

    /**
     * @notice Records a settled challenge job of `round`: whether `provider` answered it right, and the throughput it
     * showed (units per hour, from its assignment to its reveal). A failure is slashed from the provider's stake
     * (`ProviderRegistry.slashStake`) when the provider revealed a result, fresh providers audited the job, and the
     * JobMarket slashed the provider in it.
     * Requirements:
     * - the caller has `ISSUER_ROLE` and submitted `jobId`;
     * - `round` is committed and not revealed; `jobId` is not recorded yet;
     * - the job has settled (Completed, Failed, Cancelled, Expired or FailedInvalid);
     * - not `passed` when the JobMarket slashed `provider` in `jobId`.
     */
    function record(uint64 round, uint256 jobId, address provider, bool passed, uint64 unitsPerHour)
        external
        onlyRole(ISSUER_ROLE)
    {
        Round storage r = _rounds[round];
        if (r.seedHash == bytes32(0)) revert UnknownRound(round);
        if (r.revealed) revert RoundRevealedAlready(round);
        if (_recordedIn[jobId] != 0) revert AlreadyRecorded(jobId, _recordedIn[jobId]);
        (address requester, uint8 status) = _jobMarket.requesterAndStatusOf(jobId);
        if (requester != msg.sender) revert NotIssuersJob(jobId);
        // Open, Assigned, Committed, Revealed and Disputed jobs are still live (JobMarket.Status 1–4 and 9).
        if ((status >= 1 && status <= 4) || status == 9) revert JobNotSettled(jobId, status);
        bool faulted = _registry.faultedIn(provider, jobId);
        if (passed && faulted) revert PassContradictsVerdict(jobId, provider);
        _recordedIn[jobId] = round;
        emit ChallengeRecorded(round, jobId, provider, passed, unitsPerHour);
        if (address(_emissionController) != address(0)) {
            _emissionController.recordChallenge(provider, passed, unitsPerHour);
        }
        if (faulted && _auditedAfterReveal(jobId, provider)) {
            uint256 amount = _registry.slashStake(provider, jobId);
            emit ChallengeFailureSlashed(round, jobId, provider, amount);
        }
    }

    /// @notice Reveals `round`'s seed, which must hash to its commitment; the round then takes no more records.
    function revealRound(uint64 round, bytes32 seed) external onlyRole(ISSUER_ROLE) {
        Round storage r = _rounds[round];
        if (r.seedHash == bytes32(0)) revert UnknownRound(round);
        if (r.revealed) revert RoundRevealedAlready(round);
        if (keccak256(abi.encode(seed)) != r.seedHash) revert SeedMismatch(round);
        r.revealed = true;
        r.seed = seed;
        emit RoundRevealed(round, seed);
    }

    /// @notice A round: its seed hash, its seed once revealed (zero before), when it was committed, whether revealed.
    function getRound(uint64 round) external view returns (Round memory) {
        return _rounds[round];
    }

    /// @notice The last round committed (0 before the first).
    function lastRound() external view returns (uint64) {
        return _lastRound;
    }

    /// @notice The round `jobId` was recorded in, 0 if it is not a recorded challenge.
    function roundOf(uint256 jobId) external view returns (uint64) {
        return _recordedIn[jobId];
    }

    /// @dev Whether `provider` revealed a result of `jobId` and fresh providers re-ran the job (it was audited).
    function _auditedAfterReveal(uint256 jobId, address provider) private view returns (bool) {
        (,,,, bool revealed,,) = _jobMarket.getSlot(jobId, provider);
        (uint8 auditKind,,,) = _jobMarket.getAudit(jobId);
        return revealed && auditKind != 0;
    }

    /// @notice The JobMarket whose jobs this ledger records.
    function jobMarket() external view returns (address) {
        return address(_jobMarket);
    }
}
