// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title TesseraToken (TSR)
 * @notice ERC-20 with permit and burn. The genesis supply is minted once in the constructor; after
 * that only the minter (the EmissionController) can mint. The admin (owner) sets the minter once.
 */
contract TesseraToken is ERC20, ERC20Permit, ERC20Burnable, Ownable {
    address private _minter;

    /// @notice The minter was set (once, by the admin).
    event MinterSet(address indexed minter);

    /// @dev `setMinter` was already called.
    error MinterAlreadySet();
    /// @dev `caller` is not the minter.
    error NotMinter(address caller);
    /// @dev The minter must not be the zero address.
    error InvalidMinter(address minter);

    /**
     * @param admin owner, allowed to set the minter once.
     * @param genesisHolder receives `genesisSupply`.
     * @param genesisSupply TSR wei minted at deployment.
     */
    constructor(address admin, address genesisHolder, uint256 genesisSupply)
        ERC20("Tessera", "TSR")
        ERC20Permit("Tessera")
        Ownable(admin)
    {
        _mint(genesisHolder, genesisSupply);
    }

    /**
     * @notice Sets the only address that may mint from now on.
     * Requirements:
     * - the caller is the admin;
     * - the minter has not been set before;
     * - `minter` is not the zero address.
     */
    function setMinter(address minter_) external onlyOwner {
        if (_minter != address(0)) revert MinterAlreadySet();
        if (minter_ == address(0)) revert InvalidMinter(minter_);
        _minter = minter_;
        emit MinterSet(minter_);
    }

    /**
     * @notice Mints `amount` to `to`.
     * Requirements:
     * - the caller is the minter.
     */
    function mint(address to, uint256 amount) external {
        if (msg.sender != _minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @notice The minter, or the zero address before `setMinter`.
    function minter() external view returns (address) {
        return _minter;
    }
}
