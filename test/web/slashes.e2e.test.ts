import { parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { submitJob } from '../../client/submitJob.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { formatTsr, shortAddress } from '../../web/src/format.ts'
import { noBrowserReason, screenshot, startWebStack, type WebStack } from '../support/browser.ts'
import { gqlData } from '../support/graphql.ts'
import { uploadRunnableJob } from '../support/market.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's slash tests: ${noBrowserReason}`)

// Three agents; the dearest lies, so a k = 3 job goes to all three and the liar is slashed for it.
const asks = [parseEther('0.001'), parseEther('0.002'), parseEther('0.003')]
const keys = [devKeys[2], devKeys[3], devKeys[4]] as const
const liar = privateKeyToAccount(devKeys[4]).address

type Slash = { provider: string; amount: string; toBeneficiary: string; burned: string; beneficiary: string }

describe.skipIf(noBrowserReason)('a slashed provider on the job page', () => {
  let web: WebStack
  beforeAll(async () => {
    web = await startWebStack({ agents: keys.map((privateKey, i) => ({ privateKey, pricePerUnit: asks[i] as bigint, lie: i === 2 })) })
  }, 240_000)
  afterAll(async () => {
    await web?.stop()
  }, 60_000)

  test('shows the slash as ProviderRegistry recorded it: who, how much, to whom, how much burned', async () => {
    const requester = privateKeyToAccount(devKeys[5])
    const { modelHash, inputHash } = await uploadRunnableJob(web.stack.serverUrl, requester, 4)
    const { jobId } = await submitJob({
      rpcUrl: web.stack.rpcUrl,
      deployment: web.stack.deployment,
      privateKey: devKeys[5],
      modelHash,
      inputHash,
      units: 4n,
      maxPricePerUnit: parseEther('0.01'),
      redundancy: 3,
    })
    const { page, errors } = await web.open(`/jobs/${jobId}`)
    await page.getByTestId('slashes').waitFor({ timeout: 90_000 })
    const { job } = await gqlData<{ job: { status: string; slashes: Slash[] } }>(
      new URL('/graphql', web.stack.serverUrl).toString(),
      'query($id: BigInt!) { job(id: $id) { status slashes { provider amount toBeneficiary burned beneficiary } } }',
      { id: jobId.toString() },
    )
    expect(job.slashes.map((s) => s.provider)).toEqual([liar])
    const [slash] = job.slashes as [Slash]
    // The liar's whole collateral: its ask × the units.
    expect(BigInt(slash.amount)).toBe((asks[2] as bigint) * 4n)
    const shown = await page.getByTestId('slashes').textContent()
    expect(shown).toContain(shortAddress(liar))
    expect(shown).toContain(`lost ${formatTsr(slash.amount, 6)}`)
    expect(shown).toContain(`${formatTsr(slash.toBeneficiary, 6)} to ${shortAddress(slash.beneficiary)}`)
    expect(shown).toContain(`${formatTsr(slash.burned, 6)} burned`)
    expect(shown).toContain('(dissented)')
    expect(await page.getByText('the majority settles it').count()).toBe(1)
    await screenshot(page, 'job-slashed')
    expect(errors).toEqual([])
  }, 150_000)
})
