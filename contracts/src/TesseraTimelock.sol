// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/**
 * @title TesseraTimelock
 * @notice The deployment's governor: OpenZeppelin's TimelockController, unchanged. It alone may call
 * `EmissionController.setParams` / `setPhi` and `JobMarket.setTake` (`GOVERNOR_ROLE`); every call waits `minDelay`
 * seconds between being scheduled and executed, so anyone watching can react before a parameter moves, and the
 * contracts refuse any value outside their hard bounds whatever the timelock executes.
 */
contract TesseraTimelock is TimelockController {
    /**
     * @param minDelay seconds between schedule and execute.
     * @param proposers may schedule (and cancel) calls.
     * @param executors may execute ready calls; the zero address in it lets anyone execute.
     * @param admin optional admin of the timelock's roles; zero makes the timelock its own admin.
     */
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
