import { type Address, type Hex, parseEventLogs, zeroAddress } from 'viem'
import { describe, expect, test } from 'vitest'
import { expectRevert, useTestSystem } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { tesseraTokenAbi, tesseraTokenBytecode } from './generated/index.ts'

const sys = useTestSystem()

const read = <T>(address: Address, functionName: string, args: readonly unknown[] = []) =>
  sys.read<T>({ address, abi: tesseraTokenAbi, functionName, args })

/** A token whose minter is still unset, owned by the deployer. */
async function freshToken(): Promise<Address> {
  const { deployer } = sys.accounts
  return sys.deployContract(deployer, tesseraTokenAbi, tesseraTokenBytecode, [deployer.address, deployer.address, 1000n * TSR])
}

describe('TesseraToken', () => {
  test('genesis: name, symbol, decimals, supply to the deployer, minter = controller, admin = deployer', async () => {
    expect(await read(sys.token, 'name')).toBe('Tessera')
    expect(await read(sys.token, 'symbol')).toBe('TSR')
    expect(await read(sys.token, 'decimals')).toBe(18)
    expect(await read(sys.token, 'totalSupply')).toBe(100_000_000n * TSR)
    expect(await read(sys.token, 'balanceOf', [sys.accounts.deployer.address])).toBe(100_000_000n * TSR)
    expect(await read(sys.token, 'minter')).toBe(sys.controller)
    expect(await read(sys.token, 'owner')).toBe(sys.accounts.deployer.address)
  })

  test('setMinter: once, by the admin, emits MinterSet; then only the minter mints', async () => {
    const token = await freshToken()
    const other = sys.accounts.requesters[0]
    const receipt = await sys.write(sys.accounts.deployer, {
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'setMinter',
      args: [other.address],
    })
    const [event] = parseEventLogs({ abi: tesseraTokenAbi, logs: receipt.logs, eventName: 'MinterSet' })
    expect(event.args.minter).toBe(other.address)

    await sys.write(other, { address: token, abi: tesseraTokenAbi, functionName: 'mint', args: [other.address, 5n * TSR] })
    expect(await read(token, 'balanceOf', [other.address])).toBe(5n * TSR)
    expect(await read(token, 'totalSupply')).toBe(1005n * TSR)
  })

  test('setMinter reverts MinterAlreadySet on the second call', async () => {
    await expectRevert(
      sys.write(sys.accounts.deployer, {
        address: sys.token,
        abi: tesseraTokenAbi,
        functionName: 'setMinter',
        args: [sys.accounts.matcher.address],
      }),
      'MinterAlreadySet',
    )
  })

  test('setMinter reverts InvalidMinter for the zero address', async () => {
    const token = await freshToken()
    await expectRevert(
      sys.write(sys.accounts.deployer, { address: token, abi: tesseraTokenAbi, functionName: 'setMinter', args: [zeroAddress] }),
      'InvalidMinter',
    )
  })

  test('setMinter reverts OwnableUnauthorizedAccount for anyone but the admin', async () => {
    const token = await freshToken()
    const args = await expectRevert(
      sys.write(sys.accounts.matcher, {
        address: token,
        abi: tesseraTokenAbi,
        functionName: 'setMinter',
        args: [sys.accounts.matcher.address],
      }),
      'OwnableUnauthorizedAccount',
    )
    expect(args).toEqual([sys.accounts.matcher.address])
  })

  test('mint reverts NotMinter for anyone but the minter, also before a minter is set', async () => {
    const args = await expectRevert(
      sys.write(sys.accounts.deployer, {
        address: sys.token,
        abi: tesseraTokenAbi,
        functionName: 'mint',
        args: [sys.accounts.deployer.address, 1n],
      }),
      'NotMinter',
    )
    expect(args).toEqual([sys.accounts.deployer.address])
    const token = await freshToken()
    await expectRevert(
      sys.write(sys.accounts.deployer, {
        address: token,
        abi: tesseraTokenAbi,
        functionName: 'mint',
        args: [sys.accounts.deployer.address, 1n],
      }),
      'NotMinter',
    )
  })

  test('burn lowers the supply', async () => {
    await sys.write(sys.accounts.deployer, { address: sys.token, abi: tesseraTokenAbi, functionName: 'burn', args: [7n * TSR] })
    expect(await read(sys.token, 'totalSupply')).toBe(100_000_000n * TSR - 7n * TSR)
  })

  /** Signs an EIP-2612 permit of `value` from the deployer to the matcher. */
  async function signPermit(value: bigint, deadline: bigint, signer = sys.accounts.deployer) {
    const owner = sys.accounts.deployer
    const nonce = await read<bigint>(sys.token, 'nonces', [owner.address])
    const signature = await signer.signTypedData({
      domain: { name: 'Tessera', version: '1', chainId: sys.chain.id, verifyingContract: sys.token },
      types: {
        Permit: [
          { name: 'owner', type: 'address' },
          { name: 'spender', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Permit',
      message: { owner: owner.address, spender: sys.accounts.matcher.address, value, nonce, deadline },
    })
    const r = signature.slice(0, 66) as Hex
    const s = `0x${signature.slice(66, 130)}` as Hex
    const v = Number.parseInt(signature.slice(130, 132), 16)
    return [owner.address, sys.accounts.matcher.address, value, deadline, v, r, s] as const
  }

  test('permit sets an allowance from an EIP-712 signature', async () => {
    const args = await signPermit(42n, (await sys.now()) + 3600n)
    await sys.write(sys.accounts.matcher, { address: sys.token, abi: tesseraTokenAbi, functionName: 'permit', args })
    expect(await read(sys.token, 'allowance', [sys.accounts.deployer.address, sys.accounts.matcher.address])).toBe(42n)
    expect(await read(sys.token, 'nonces', [sys.accounts.deployer.address])).toBe(1n)
  })

  test('permit reverts ERC2612ExpiredSignature and ERC2612InvalidSigner', async () => {
    const expired = await signPermit(1n, (await sys.now()) - 1n)
    await expectRevert(
      sys.write(sys.accounts.matcher, { address: sys.token, abi: tesseraTokenAbi, functionName: 'permit', args: expired }),
      'ERC2612ExpiredSignature',
    )
    const forged = await signPermit(1n, (await sys.now()) + 3600n, sys.accounts.matcher)
    await expectRevert(
      sys.write(sys.accounts.matcher, { address: sys.token, abi: tesseraTokenAbi, functionName: 'permit', args: forged }),
      'ERC2612InvalidSigner',
    )
  })

  test('OpenZeppelin errors surface: ERC20InsufficientBalance, ERC20InvalidReceiver, OwnableInvalidOwner', async () => {
    const poor = sys.accounts.requesters[1]
    await expectRevert(
      sys.write(poor, { address: sys.token, abi: tesseraTokenAbi, functionName: 'burn', args: [1n] }),
      'ERC20InsufficientBalance',
    )
    await expectRevert(
      sys.write(sys.accounts.deployer, { address: sys.token, abi: tesseraTokenAbi, functionName: 'transfer', args: [zeroAddress, 1n] }),
      'ERC20InvalidReceiver',
    )
    await expectRevert(
      sys.deployContract(sys.accounts.deployer, tesseraTokenAbi, tesseraTokenBytecode, [zeroAddress, sys.accounts.deployer.address, 1n]),
      'OwnableInvalidOwner',
    )
  })
})
