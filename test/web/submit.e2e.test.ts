import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import ort from 'onnxruntime-node'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildMlp } from '../../agent/models/buildMlp.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { encodeNpy } from '../../protocol/npy.ts'
import { encodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { formatFloat32, tensorFromNpy } from '../../web/src/submit/tensor.ts'
import { noBrowserReason, screenshot, startWebStack, type WebStack } from '../support/browser.ts'
import { gqlData } from '../support/graphql.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's submit tests: ${noBrowserReason}`)

const requester = privateKeyToAccount(devKeys[7]).address
const sha256 = (bytes: Uint8Array) => `0x${createHash('sha256').update(bytes).digest('hex')}`

/** `rows` × `columns` values exact in float32 (eighths), so the typed JSON is the tensor bit for bit. */
const rowsOf = (rows: number, columns: number) =>
  Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (_, c) => (((r * columns + c) * 5) % 17) / 8 - 1))

describe('the page’s tensor inputs', () => {
  test('read back what protocol/npy.ts writes, and show each float32 exactly', () => {
    const data = new Float32Array([0.1, -2.5, 3.4e38, -0, 1e-45, 7, Math.PI, -1 / 3])
    const tensor = { dims: [4, 2], data }
    expect(tensorFromNpy(encodeNpy(tensor))).toEqual(tensor)
    for (const value of data) expect(Math.fround(Number(formatFloat32(value)))).toBe(value)
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1')
  })
})

describe.skipIf(noBrowserReason)('submit page', () => {
  let web: WebStack
  let dir: string
  let modelFile: string
  let model: Uint8Array
  beforeAll(async () => {
    web = await startWebStack()
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-submit-'))
    model = buildMlp({ seed: 11, inputSize: 16, hiddenSize: 16, outputSize: 4 })
    modelFile = path.join(dir, 'mlp.onnx')
    await writeFile(modelFile, model)
  }, 240_000)
  afterAll(async () => {
    await web?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  }, 60_000)

  const graphqlUrl = () => new URL('/graphql', web.stack.serverUrl).toString()
  const jobsOfRequester = async () =>
    (
      await gqlData<{ jobs: { totalCount: number } }>(
        graphqlUrl(),
        'query($r: Address!) { jobs(where: { requester: $r }) { totalCount } }',
        { r: requester },
      )
    ).jobs.totalCount

  /** Opens the page, connected as dev account #7 with the model file chosen. */
  async function openConnected() {
    const opened = await web.open('/submit')
    const { page } = opened
    await page.getByRole('heading', { name: 'Submit a job', level: 1 }).waitFor()
    await page.getByRole('button', { name: 'Use dev account' }).click()
    await expect.poll(() => page.getByTestId('wallet-address').textContent(), { timeout: 20_000 }).toBe(requester)
    await page.getByLabel('ONNX model file').setInputFiles(modelFile)
    await page.getByTestId('model-hash').getByText(sha256(model)).waitFor()
    return opened
  }

  test('a ragged input shows what is wrong, and submitting it sends nothing', async () => {
    const { page, errors } = await openConnected()
    const sent: string[] = []
    page.on('request', (request) => {
      if (request.method() === 'PUT' || request.postData()?.includes('prepareSubmitJob')) sent.push(`${request.method()} ${request.url()}`)
    })
    const rows = rowsOf(4, 16)
    rows[1] = rows[1].slice(0, 15)
    await page.getByLabel('Input rows (JSON)').fill(JSON.stringify(rows))
    const message = 'Row 2 has 15 values but row 1 has 16'
    await page.locator('.field-problem', { hasText: message }).waitFor()
    await page.getByTestId('submit-job').click()
    const alert = page.getByTestId('submit-problems')
    await alert.waitFor()
    expect(await alert.getAttribute('role')).toBe('alert')
    expect(await alert.textContent()).toContain(message)
    expect(await alert.textContent()).toContain('Nothing was sent')
    // Not a number either, named by its row and place.
    await page.getByLabel('Input rows (JSON)').fill('[[1, 2], [3, "x"]]')
    await page.locator('.field-problem', { hasText: 'Row 2, value 2 is "x", not a number' }).waitFor()
    expect(sent).toEqual([])
    expect(await jobsOfRequester()).toBe(0)
    expect(errors).toEqual([])
  }, 60_000)

  test('uploads the model, quotes, submits as dev account #7 and follows the job to the output onnxruntime gives', async () => {
    const { page, errors } = await openConnected()
    const rows = rowsOf(4, 16)
    await page.getByLabel('Input rows (JSON)').fill(JSON.stringify(rows))
    const tensor = { dims: [4, 16], data: Float32Array.from(rows.flat()) }
    const inputHash = sha256(encodeTensorBlob(tensor))
    await page.getByTestId('input-summary').getByText(inputHash).waitFor()
    expect(await page.getByTestId('units').textContent()).toBe('4')

    // Both agents ask at most the default 0.01 TSR and heartbeat: a redundant job of k = 2 fits now.
    await expect.poll(() => page.getByTestId('quote-eligible').textContent(), { timeout: 30_000 }).toBe('2')
    expect(await page.getByTestId('quote-reason').textContent()).toContain('OK')
    expect(await page.getByTestId('quote-price').textContent()).toBe('0.002 TSR')
    await screenshot(page, 'submit')

    // Shared, so the next test finds it among the public models.
    await page.getByLabel('Share the model: anyone may download it').check()
    await page.getByTestId('submit-job').click()
    await page.getByTestId('job-status').getByText('COMPLETED').waitFor({ timeout: 90_000 })
    const table = page.getByTestId('output-table')
    await table.waitFor({ timeout: 20_000 })
    const jobId = (await page.locator('#follow-heading a').textContent())?.replace('#', '') ?? ''
    const shown = await table
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')))

    const { job } = await gqlData<{
      job: { status: string; requester: string; modelHash: string; inputHash: string; units: string; output: { outputHash: string } | null }
    }>(graphqlUrl(), 'query($id: BigInt!) { job(id: $id) { status requester modelHash inputHash units output { outputHash } } }', {
      id: jobId,
    })
    expect(job).toMatchObject({ status: 'COMPLETED', requester, modelHash: sha256(model), inputHash, units: '4' })
    expect(await page.getByTestId('output-hash').textContent()).toBe(job.output?.outputHash)
    expect(await page.getByTestId('uploaded').textContent()).toContain(inputHash)

    // The numbers onnxruntime gives for the same model and input, run here directly.
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
    try {
      const direct = await session.run({ [session.inputNames[0] as string]: new ort.Tensor('float32', tensor.data, tensor.dims) })
      const expected = direct[session.outputNames[0] as string]
      if (!expected) throw new Error('the model gave no output')
      expect(expected.dims).toEqual([4, 4])
      const values = expected.data as Float32Array
      expect(shown).toEqual(Array.from({ length: 4 }, (_, r) => Array.from(values.subarray(r * 4, r * 4 + 4), formatFloat32)))
      expect(shown.flat().map((text) => Math.fround(Number(text)))).toEqual([...values])
    } finally {
      await session.release()
    }
    await screenshot(page, 'submit-completed')
    expect(errors).toEqual([])
  }, 150_000)

  test('a model shared by an earlier job is there to pick: no file needed, and the quote takes it', async () => {
    const { page, errors } = await web.open('/submit')
    await page.getByRole('heading', { name: 'Submit a job', level: 1 }).waitFor()
    await page.getByLabel('A model already on the server').check()
    const pick = page.getByLabel('Public model')
    await expect.poll(() => pick.locator('option').count(), { timeout: 20_000 }).toBeGreaterThan(1)
    const hash = sha256(model)
    await pick.selectOption(hash)
    expect(await page.getByLabel('Model sha256').inputValue()).toBe(hash)
    await page.getByLabel('Input rows (JSON)').fill(JSON.stringify(rowsOf(2, 16)))
    await expect.poll(() => page.getByTestId('quote-eligible').textContent(), { timeout: 30_000 }).toBe('2')
    const { models } = await gqlData<{ models: { sha256: string }[] }>(graphqlUrl(), '{ models { sha256 } }')
    expect(models.map((m) => m.sha256)).toContain(hash)
    expect(errors).toEqual([])
  }, 60_000)
})
