// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title ITesseraTokenMintable
 * @notice The part of TesseraToken that the EmissionController uses: its supply (for the cap)
 * and `mint`, which only the minter (the controller) may call.
 */
interface ITesseraTokenMintable {
    /// @notice Total TSR wei in existence.
    function totalSupply() external view returns (uint256);

    /// @notice Mints `amount` TSR wei to `to`. Only the minter.
    function mint(address to, uint256 amount) external;
}
