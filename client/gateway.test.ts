import { getAddress, verifyTypedData } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { Verification } from '../protocol/enums.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import { GatewayError, gatewayTypedData } from '../protocol/gateway.ts'
import { gatewayRejectionOf, readGatewayAccount, signGatewaySubmit, submitViaGateway } from './gateway.ts'
import { ServerRequestError } from './serverClient.ts'

const address = (n: number) => getAddress(`0x${n.toString(16).padStart(40, '0')}`)
const deployment = {
  chainId: 31337,
  contracts: {
    TesseraToken: { address: address(10), blockNumber: 1 },
    ProviderRegistry: { address: address(11), blockNumber: 2 },
    JobMarket: { address: address(12), blockNumber: 4 },
    EmissionController: { address: address(13), blockNumber: 3 },
    ChallengeLedger: { address: address(14), blockNumber: 4 },
    TesseraTimelock: { address: address(15), blockNumber: 4 },
    JobBatcher: { address: address(16), blockNumber: 4 },
    ProviderBatcher: { address: address(17), blockNumber: 4 },
  },
} satisfies Pick<Deployment, 'chainId' | 'contracts'>
const privateKey = devKeys[5]
const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as const
const spec = { modelHash: hash(1), inputHash: hash(2), units: 4n, maxPricePerUnit: 10n ** 16n, redundancy: 2 }
// Nothing listens here: a test that reaches the network fails with a ServerRequestError, not the error it expects.
const serverUrl = 'http://127.0.0.1:1'

describe('signGatewaySubmit', () => {
  test("fills submitJob's defaults and signs as the key's account, verifiable under the gateway's domain", async () => {
    const { request, signature } = await signGatewaySubmit({ ...spec, deployment, privateKey, deadline: 1_000n, nonce: 7n })
    const account = privateKeyToAccount(privateKey).address
    expect(request).toEqual({
      ...spec,
      account,
      nonce: 7n,
      minVramMiB: 0,
      gpuModel: 0,
      regions: [],
      verification: Verification.Redundant,
      deadline: 1_000n,
      outputTolerance: defaultOutputTolerance,
    })
    expect(await verifyTypedData({ ...gatewayTypedData(deployment, 'Submit', request), address: account, signature })).toBe(true)
    // Another market (or chain) is another domain: the same signature proves nothing there.
    const elsewhere = { ...deployment, contracts: { ...deployment.contracts, JobMarket: { address: address(99), blockNumber: 1 } } }
    expect(await verifyTypedData({ ...gatewayTypedData(elsewhere, 'Submit', request), address: account, signature })).toBe(false)
  })

  test('a fresh nonce per request when none is given', async () => {
    const a = await signGatewaySubmit({ ...spec, deployment, privateKey, deadline: 1_000n })
    const b = await signGatewaySubmit({ ...spec, deployment, privateKey, deadline: 1_000n })
    expect(a.request.nonce).not.toBe(b.request.nonce)
  })
})

describe('refused before anything is signed or sent', () => {
  test('a spec JobMarket would refuse', async () => {
    const submit = submitViaGateway({
      ...spec,
      redundancy: 1,
      serverUrl,
      deployment,
      privateKey,
      deadline: 1_000n,
    })
    await expect(submit).rejects.toThrow(GatewayError)
    await expect(submit).rejects.toThrow(/JobMarket would refuse.*redundancy must be 2 to 16/)
  })

  test('a read valid longer than the server allows', async () => {
    await expect(readGatewayAccount({ serverUrl, deployment, privateKey, expiresIn: 3601 })).rejects.toThrow(/1 to 3600 s ahead/)
  })
})

describe('gatewayRejectionOf', () => {
  const answer = (code: string | undefined) =>
    new ServerRequestError('GraphQL error: x', {
      status: 200,
      graphqlErrors: [{ message: 'gateway request rejected: balance 1 is below 5', code }],
    })

  test("a GATEWAY_REJECTED error gives the server's reason; other errors give none", () => {
    expect(gatewayRejectionOf(answer('GATEWAY_REJECTED'))).toBe('balance 1 is below 5')
    expect(gatewayRejectionOf(answer('BAD_USER_INPUT'))).toBeUndefined()
    expect(gatewayRejectionOf(answer(undefined))).toBeUndefined()
    expect(gatewayRejectionOf(new GatewayError('balance'))).toBeUndefined()
  })
})
