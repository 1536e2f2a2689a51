import { type ChangeEvent, type ReactNode, useEffect, useId, useMemo, useRef, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { useHead } from '../components/live.tsx'
import { formatTime } from '../format.ts'
import { graphql } from '../graphql/tada.ts'
import { apiMessage } from '../submit/apiMessage.ts'
import { JobFollow } from '../submit/JobFollow.tsx'
import { QuotePanel } from '../submit/QuotePanel.tsx'
import { defaultSpecForm, type FieldProblem, gpuModelChoices, type SpecForm, specTerms, submitTiming } from '../submit/spec.ts'
import { encodeTensorBlob, type Tensor, tensorFromFile, tensorFromText } from '../submit/tensor.ts'
import { sha256Hex, uploadBlob } from '../wallet/blobs.ts'
import { PreparedTransactionFields } from '../wallet/preparedTransaction.ts'
import { useWallet } from '../wallet/WalletContext.tsx'
import { WalletPicker } from '../wallet/WalletPicker.tsx'
import './Submit.css'

type Hex = `0x${string}`

const ModelsQuery = graphql(`
  query SubmitModels {
    models(first: 100) {
      sha256
      size
      uploadedAt
    }
  }
`)

const CheckJobQuery = graphql(`
  query SubmitCheckJob($spec: CheckJobInput!) {
    checkJob(spec: $spec) {
      runnable
      problems {
        code
        message
      }
    }
  }
`)

const PrepareSubmitJob = graphql(
  `
  mutation PrepareSubmitJob($from: Address!, $spec: SubmitJobInput!) {
    prepareSubmitJob(from: $from, spec: $spec) {
      ...PreparedTransactionFields
    }
  }
`,
  [PreparedTransactionFields],
)

const JobsOfRequesterQuery = graphql(`
  query SubmitJobsOfRequester($requester: Address!) {
    jobs(first: 50, where: { requester: $requester }, orderBy: ID, orderDirection: desc) {
      edges {
        node {
          id
          txHash
        }
      }
    }
  }
`)

const sha256Pattern = /^0x[0-9a-fA-F]{64}$/

/** How long to wait for the indexer to report a mined job before telling the person where else to look. */
const indexTimeoutMs = 60_000

/** A file read into memory with its sha256. */
type LoadedFile = { name: string; bytes: Uint8Array; sha256: Hex }

/** One step of submitting, as the page lists it. */
type Step = { id: number; label: string; state: 'active' | 'done' | 'failed' | 'pending'; detail?: string }

/** `value`, once it has stayed the same (by its JSON) for `ms`: the quote follows typing without a request per key. */
function useDebounced<T>(value: T, ms: number): T {
  const key = JSON.stringify(value)
  const [settled, setSettled] = useState(value)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `value`, which is a new object each render
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [key, ms])
  return settled
}

async function readFile(file: File): Promise<LoadedFile> {
  const bytes = new Uint8Array(await file.arrayBuffer())
  return { name: file.name, bytes, sha256: await sha256Hex(bytes) }
}

function Field({
  id,
  label,
  hint,
  children,
  problem,
}: {
  id: string
  label: string
  hint?: ReactNode
  problem?: string
  children: ReactNode
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
      {problem ? (
        <span className="error field-problem" id={`${id}-problem`}>
          {problem}
        </span>
      ) : null}
    </div>
  )
}

/** The ids a control's description comes from: its hint and, when there is one, its problem. */
const describedBy = (id: string, problem?: string) => (problem ? `${id}-hint ${id}-problem` : `${id}-hint`)

export default function SubmitPage() {
  const { wallet, config } = useWallet()
  const client = useClient()
  const head = useHead()
  const ids = useId()
  const id = (name: string) => `${ids}-${name}`

  const [modelSource, setModelSource] = useState<'upload' | 'server'>('upload')
  const [modelFile, setModelFile] = useState<LoadedFile>()
  const [modelFileError, setModelFileError] = useState<string>()
  const [modelHashText, setModelHashText] = useState('')
  const [shareModel, setShareModel] = useState(false)

  const [inputSource, setInputSource] = useState<'text' | 'file'>('text')
  const [inputText, setInputText] = useState('')
  const [inputFile, setInputFile] = useState<LoadedFile>()

  const [form, setForm] = useState<SpecForm>(defaultSpecForm)
  const set = (field: keyof SpecForm) => (e: ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setForm((f) => ({ ...f, [field]: e.target.value }))

  /** Hashes this page has uploaded (or found stored): a retry doesn't send them again. */
  const [uploaded, setUploaded] = useState<Partial<Record<Hex, 'model' | 'input'>>>({})
  const [steps, setSteps] = useState<Step[]>([])
  const [running, setRunning] = useState(false)
  const [problems, setProblems] = useState<string[]>([])
  const [failure, setFailure] = useState<string>()
  const [jobId, setJobId] = useState<string>()
  const alertRef = useRef<HTMLDivElement>(null)

  const [modelsResult] = useQuery({ query: ModelsQuery })
  const publicModels = modelsResult.data?.models ?? []

  const input = useMemo((): { tensor?: Tensor; error?: string } => {
    try {
      if (inputSource === 'file') return inputFile ? { tensor: tensorFromFile(inputFile.name, inputFile.bytes) } : {}
      return inputText.trim() ? { tensor: tensorFromText(inputText) } : {}
    } catch (error) {
      return { error: (error as Error).message }
    }
  }, [inputSource, inputFile, inputText])
  const inputBlob = useMemo(() => (input.tensor ? encodeTensorBlob(input.tensor) : undefined), [input.tensor])
  const [inputHash, setInputHash] = useState<Hex>()
  useEffect(() => {
    setInputHash(undefined)
    if (!inputBlob) return
    let current = true
    void sha256Hex(inputBlob).then((h) => current && setInputHash(h))
    return () => {
      current = false
    }
  }, [inputBlob])

  const modelHash: Hex | undefined =
    modelSource === 'upload'
      ? modelFile?.sha256
      : sha256Pattern.test(modelHashText.trim())
        ? (modelHashText.trim().toLowerCase() as Hex)
        : undefined
  const units = input.tensor?.dims[0]
  const { terms, problems: fieldProblems } = specTerms(form, units)
  const quoteTerms = useDebounced(terms, 400)
  const problemOf = (field: FieldProblem['field']) => fieldProblems.find((p) => p.field === field)?.message
  // The quote checks the blobs only once both are on the server: before that, "not found" says nothing new.
  const checkable =
    modelHash && inputHash && (uploaded[modelHash] || modelSource === 'server') && uploaded[inputHash] ? { modelHash, inputHash } : {}

  async function onModelFile(e: ChangeEvent<HTMLInputElement>) {
    setModelFileError(undefined)
    const file = e.target.files?.[0]
    if (!file) return setModelFile(undefined)
    if (file.size === 0) {
      setModelFile(undefined)
      return setModelFileError(`${file.name} is empty`)
    }
    setModelFile(await readFile(file))
  }

  async function onInputFile(e: ChangeEvent<HTMLInputElement>) {
    const file = e.target.files?.[0]
    setInputFile(file ? await readFile(file) : undefined)
  }

  /** Runs `work` as a listed step: active while it runs, then done (with `detail`) or failed. */
  const nextStep = useRef(0)
  function addStep(label: string, state: Step['state'] = 'active'): number {
    const stepId = nextStep.current++
    setSteps((s) => [...s, { id: stepId, label, state }])
    return stepId
  }
  function updateStep(stepId: number, change: Partial<Step>) {
    setSteps((s) => s.map((step) => (step.id === stepId ? { ...step, ...change } : step)))
  }
  async function step<T>(label: string, work: () => Promise<T>, detail?: (result: T) => string): Promise<T> {
    const stepId = addStep(label)
    try {
      const result = await work()
      updateStep(stepId, { state: 'done', detail: detail?.(result) })
      return result
    } catch (error) {
      updateStep(stepId, { state: 'failed' })
      throw error
    }
  }

  /** What must be fixed before anything is uploaded or signed, for a person. */
  function blockers(now: bigint): { list: string[]; deadline?: bigint; outputTolerance?: number } {
    const list: string[] = []
    if (modelSource === 'upload' && !modelFile) list.push(modelFileError ?? 'Model: choose an .onnx file to upload')
    if (modelSource === 'server' && !modelHash) list.push('Model: enter the sha256 of a model on the server (0x and 64 hex digits)')
    if (input.error) list.push(`Input: ${input.error}`)
    else if (!input.tensor) list.push('Input: type the rows of numbers, or choose a file')
    const timing = submitTiming(form, now)
    for (const p of [...fieldProblems.filter((p) => p.field !== 'units'), ...timing.problems]) list.push(p.message)
    if (!wallet || !config) list.push('Connect an account above: it signs the uploads and pays for the job')
    return { list, deadline: timing.deadline, outputTolerance: timing.outputTolerance }
  }

  async function submit() {
    setFailure(undefined)
    setJobId(undefined)
    const now = head?.blockTimestamp ?? BigInt(Math.floor(Date.now() / 1000))
    const check = blockers(now)
    setProblems(check.list)
    if (check.list.length || !wallet || !config || !terms || !modelHash || !inputBlob || !inputHash || check.deadline === undefined) {
      requestAnimationFrame(() => alertRef.current?.focus())
      return
    }
    setSteps([])
    setRunning(true)
    try {
      const upload = async (kind: 'model' | 'input', bytes: Uint8Array, hash: Hex) => {
        if (uploaded[hash]) return
        await step(
          `Upload the ${kind}`,
          () => uploadBlob({ wallet, chainId: config.chainId, bytes, kind, public: kind === 'model' && shareModel }),
          (h) => h,
        )
        setUploaded((u) => ({ ...u, [hash]: kind }))
      }
      if (modelSource === 'upload' && modelFile) await upload('model', modelFile.bytes, modelFile.sha256)
      await upload('input', inputBlob, inputHash)
      const spec = { modelHash, inputHash, units: terms.units }
      await step(
        'Check that the model runs on the input',
        async () => {
          const r = await client.query(CheckJobQuery, { spec }, { requestPolicy: 'network-only' }).toPromise()
          if (r.error) throw new Error(`checkJob was refused: ${apiMessage(r.error)}`)
          const answer = r.data?.checkJob
          if (!answer?.runnable)
            throw new Error(`The job can not run: ${answer?.problems.map((p) => `${p.message} (${p.code})`).join('; ') ?? 'no answer'}`)
        },
        () => 'runnable',
      )
      const transactions = await step('Prepare the transactions', async () => {
        const r = await client
          .mutation(PrepareSubmitJob, {
            from: wallet.address,
            spec: { ...terms, modelHash, inputHash, deadline: String(check.deadline), outputTolerance: check.outputTolerance },
          })
          .toPromise()
        if (r.error || !r.data) throw new Error(`The API refused the job: ${r.error ? apiMessage(r.error) : 'no answer'}`)
        return r.data.prepareSubmitJob
      })
      const txSteps = transactions.map((tx) => addStep(`${tx.functionName}: ${tx.description}`, 'pending'))
      updateStep(txSteps[0], { state: 'active', detail: 'waiting for the wallet to sign' })
      let hashes: Hex[]
      try {
        hashes = await wallet.send(transactions, (index, hash) => {
          for (const earlier of txSteps.slice(0, index)) updateStep(earlier, { state: 'done' })
          updateStep(txSteps[index], { state: 'active', detail: `sent ${hash}, waiting for it to be mined` })
        })
      } catch (error) {
        // The wallet's errors start with the transaction's name: mark that one, and those before it as mined.
        const failed = transactions.findIndex((tx) => (error as Error).message.startsWith(tx.functionName))
        txSteps.forEach((s, i) => {
          if (i < failed) updateStep(s, { state: 'done' })
          if (i === failed) updateStep(s, { state: 'failed', detail: undefined })
        })
        throw error
      }
      txSteps.forEach((s, i) => {
        updateStep(s, { state: 'done', detail: `mined: ${hashes[i]}` })
      })
      const submitted = hashes[transactions.findIndex((tx) => tx.functionName === 'submitJob')]
      if (!submitted) throw new Error('The prepared transactions held no submitJob')
      const found = await step(
        'Wait for the indexer to report the job',
        async () => {
          const until = Date.now() + indexTimeoutMs
          while (Date.now() < until) {
            const r = await client.query(JobsOfRequesterQuery, { requester: wallet.address }, { requestPolicy: 'network-only' }).toPromise()
            const job = r.data?.jobs.edges.find((e) => e.node.txHash.toLowerCase() === submitted.toLowerCase())
            if (job) return job.node.id
            await new Promise((resolve) => setTimeout(resolve, 500))
          }
          throw new Error(
            `The job was submitted (transaction ${submitted}) but the indexer has not reported it yet: look for it under Jobs`,
          )
        },
        (jobId) => `job #${jobId}`,
      )
      setJobId(found)
    } catch (error) {
      setFailure((error as Error).message)
      requestAnimationFrame(() => alertRef.current?.focus())
    } finally {
      setRunning(false)
    }
  }

  const uploadedList = Object.entries(uploaded) as [Hex, 'model' | 'input'][]
  return (
    <section className="submit-page">
      <h1>Submit a job</h1>
      <WalletPicker defaultDevIndex={7} purpose="pays for the job" />
      <div className="submit-layout">
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void submit()
          }}
          noValidate
        >
          <fieldset>
            <legend>Model</legend>
            <div className="row" role="radiogroup" aria-label="Where the model comes from">
              <label>
                <input type="radio" name="model-source" checked={modelSource === 'upload'} onChange={() => setModelSource('upload')} />{' '}
                Upload an .onnx file
              </label>
              <label>
                <input type="radio" name="model-source" checked={modelSource === 'server'} onChange={() => setModelSource('server')} /> A
                model already on the server
              </label>
            </div>
            {modelSource === 'upload' ? (
              <Field
                id={id('model-file')}
                label="ONNX model file"
                problem={modelFileError}
                hint={
                  modelFile ? (
                    <span data-testid="model-hash">{`${modelFile.name}: sha256 ${modelFile.sha256}, ${modelFile.bytes.length.toLocaleString('en-US')} bytes${uploaded[modelFile.sha256] ? ', uploaded' : ', uploaded when you submit'}`}</span>
                  ) : (
                    'The server checks it loads in onnxruntime before storing it.'
                  )
                }
              >
                <input
                  id={id('model-file')}
                  type="file"
                  accept=".onnx"
                  onChange={(e) => void onModelFile(e)}
                  aria-describedby={describedBy(id('model-file'), modelFileError)}
                />
              </Field>
            ) : (
              <>
                <Field
                  id={id('model-pick')}
                  label="Public model"
                  hint={publicModels.length ? 'Models their uploaders shared, newest first.' : 'No model is public on this server yet.'}
                >
                  <select
                    id={id('model-pick')}
                    value={publicModels.some((m) => m.sha256 === modelHashText) ? modelHashText : ''}
                    onChange={(e) => setModelHashText(e.target.value)}
                    disabled={!publicModels.length}
                    aria-describedby={describedBy(id('model-pick'))}
                  >
                    <option value="">Choose a model…</option>
                    {publicModels.map((m) => (
                      <option key={m.sha256} value={m.sha256}>
                        {`${m.sha256.slice(0, 10)}…${m.sha256.slice(-6)}, ${Number(m.size).toLocaleString('en-US')} bytes, shared ${formatTime(m.uploadedAt)}`}
                      </option>
                    ))}
                  </select>
                </Field>
                <Field
                  id={id('model-hash')}
                  label="Model sha256"
                  hint="Or the hash of any model on the server you may use (your own included)."
                >
                  <input
                    id={id('model-hash')}
                    className="mono"
                    value={modelHashText}
                    onChange={(e) => setModelHashText(e.target.value)}
                    placeholder="0x…"
                    spellCheck={false}
                    aria-describedby={describedBy(id('model-hash'))}
                  />
                </Field>
              </>
            )}
            {modelSource === 'upload' ? (
              <label className="check">
                <input type="checkbox" checked={shareModel} onChange={(e) => setShareModel(e.target.checked)} /> Share the model: anyone may
                download it
              </label>
            ) : null}
          </fieldset>

          <fieldset>
            <legend>Input</legend>
            <div className="row" role="radiogroup" aria-label="Where the input comes from">
              <label>
                <input type="radio" name="input-source" checked={inputSource === 'text'} onChange={() => setInputSource('text')} /> Type
                rows
              </label>
              <label>
                <input type="radio" name="input-source" checked={inputSource === 'file'} onChange={() => setInputSource('file')} /> Upload a
                .json or .npy file
              </label>
            </div>
            {inputSource === 'text' ? (
              <Field
                id={id('input-text')}
                label="Input rows (JSON)"
                hint="One array of numbers per row, e.g. [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]. Each row is one unit of the job."
                problem={input.error}
              >
                <textarea
                  id={id('input-text')}
                  className="mono"
                  rows={6}
                  value={inputText}
                  onChange={(e) => setInputText(e.target.value)}
                  spellCheck={false}
                  aria-invalid={input.error ? true : undefined}
                  aria-describedby={describedBy(id('input-text'), input.error)}
                />
              </Field>
            ) : (
              <Field
                id={id('input-file')}
                label="Input file"
                hint="A .npy file (float32 or float64), or JSON: rows of numbers, or a tensor blob."
                problem={input.error}
              >
                <input
                  id={id('input-file')}
                  type="file"
                  accept=".json,.npy,application/json"
                  onChange={(e) => void onInputFile(e)}
                  aria-invalid={input.error ? true : undefined}
                  aria-describedby={describedBy(id('input-file'), input.error)}
                />
              </Field>
            )}
            {input.tensor ? (
              <p className="muted" data-testid="input-summary">
                {input.tensor.dims[0]} row{input.tensor.dims[0] === 1 ? '' : 's'} of {input.tensor.dims.slice(1).join(' × ') || '1'} (
                {input.tensor.dims[0]} units){inputHash ? `: sha256 ${inputHash}` : ''}
                {inputHash && uploaded[inputHash] ? ', uploaded' : ''}
              </p>
            ) : null}
          </fieldset>

          <fieldset>
            <legend>Terms</legend>
            <div className="terms">
              <Field
                id={id('verification')}
                label="Verification"
                hint="Redundant: k providers run it and must agree. Optimistic: one runs it, spot-checked."
              >
                <select
                  id={id('verification')}
                  value={form.verification}
                  onChange={set('verification')}
                  aria-describedby={describedBy(id('verification'))}
                >
                  <option value="REDUNDANT">Redundant</option>
                  <option value="OPTIMISTIC">Optimistic</option>
                </select>
              </Field>
              <Field
                id={id('redundancy')}
                label="Providers (k)"
                hint={form.verification === 'OPTIMISTIC' ? 'Always 1 when optimistic' : '2 to 16'}
                problem={problemOf('redundancy')}
              >
                <input
                  id={id('redundancy')}
                  inputMode="numeric"
                  value={form.verification === 'OPTIMISTIC' ? '1' : form.redundancy}
                  disabled={form.verification === 'OPTIMISTIC'}
                  onChange={set('redundancy')}
                  aria-describedby={describedBy(id('redundancy'), problemOf('redundancy'))}
                />
              </Field>
              <Field
                id={id('max-price')}
                label="Max price per unit (TSR)"
                hint="The most a provider may ask per unit"
                problem={problemOf('maxPrice')}
              >
                <input
                  id={id('max-price')}
                  inputMode="decimal"
                  value={form.maxPrice}
                  onChange={set('maxPrice')}
                  aria-invalid={problemOf('maxPrice') ? true : undefined}
                  aria-describedby={describedBy(id('max-price'), problemOf('maxPrice'))}
                />
              </Field>
              <Field id={id('deadline')} label="Deadline (minutes from now)" hint="Unfinished by then, the escrow comes back">
                <input
                  id={id('deadline')}
                  inputMode="numeric"
                  value={form.deadlineMinutes}
                  onChange={set('deadlineMinutes')}
                  aria-describedby={describedBy(id('deadline'))}
                />
              </Field>
              <Field id={id('tolerance')} label="Output tolerance (bits)" hint="Mantissa bits providers' outputs must agree to, 1 to 23">
                <input
                  id={id('tolerance')}
                  inputMode="numeric"
                  value={form.tolerance}
                  onChange={set('tolerance')}
                  aria-describedby={describedBy(id('tolerance'))}
                />
              </Field>
              <Field id={id('gpu')} label="GPU model">
                <select id={id('gpu')} value={form.gpuModel} onChange={set('gpuModel')}>
                  <option value="0">Any</option>
                  {gpuModelChoices.map((m) => (
                    <option key={m.id} value={m.id}>
                      {m.name}
                    </option>
                  ))}
                </select>
              </Field>
              <Field id={id('vram')} label="Minimum VRAM per GPU (MiB)" hint="0 = any" problem={problemOf('minVramMiB')}>
                <input
                  id={id('vram')}
                  inputMode="numeric"
                  value={form.minVramMiB}
                  onChange={set('minVramMiB')}
                  aria-describedby={describedBy(id('vram'), problemOf('minVramMiB'))}
                />
              </Field>
              <Field
                id={id('regions')}
                label="Regions"
                hint="Comma-separated, e.g. eu, us-east; empty = any"
                problem={problemOf('regions')}
              >
                <input
                  id={id('regions')}
                  value={form.regions}
                  onChange={set('regions')}
                  aria-describedby={describedBy(id('regions'), problemOf('regions'))}
                />
              </Field>
            </div>
            <p className="muted">
              Units: <strong data-testid="units">{units ?? '—'}</strong> (the input's rows)
            </p>
          </fieldset>

          <div className="row">
            <button type="submit" disabled={running} data-testid="submit-job">
              {running ? 'Submitting…' : 'Submit the job'}
            </button>
            {!wallet ? <span className="hint">Connect an account above first: it signs the uploads and pays for the job.</span> : null}
          </div>
          <div ref={alertRef} tabIndex={-1}>
            {problems.length ? (
              <div role="alert" className="error" data-testid="submit-problems">
                <p>Nothing was sent. Fix these first:</p>
                <ul>
                  {problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              </div>
            ) : null}
            {failure ? (
              <p role="alert" className="error" data-testid="submit-error">
                {failure}
              </p>
            ) : null}
          </div>
        </form>

        <QuotePanel terms={quoteTerms} {...checkable} />
      </div>

      {steps.length ? (
        <section aria-labelledby="steps-heading">
          <h2 id="steps-heading">Submitting</h2>
          <ol className="steps" data-testid="submit-steps" aria-live="polite">
            {steps.map((s) => (
              <li key={s.id} className={`step-${s.state}`}>
                <span className="step-state">{{ active: 'In progress', done: 'Done', failed: 'Failed', pending: 'To do' }[s.state]}</span>{' '}
                {s.label}
                {s.detail ? <code className="step-detail">{s.detail}</code> : null}
              </li>
            ))}
          </ol>
        </section>
      ) : null}

      {uploadedList.length ? (
        <section aria-labelledby="uploaded-heading">
          <h2 id="uploaded-heading">Uploaded</h2>
          <p className="muted">Kept for a retry: these are not sent again.</p>
          <ul data-testid="uploaded">
            {uploadedList.map(([hash, kind]) => (
              <li key={hash}>
                {kind}: <code>{hash}</code>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {jobId ? <JobFollow id={jobId} /> : null}
    </section>
  )
}
