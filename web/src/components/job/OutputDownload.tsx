import { useState } from 'react'
import { shortAddress } from '../../format.ts'
import { signedBlobHeaders } from '../../wallet/blobs.ts'
import { useWallet } from '../../wallet/WalletContext.tsx'
import { WalletPicker } from '../../wallet/WalletPicker.tsx'
import type { JobDetail } from './jobDetail.ts'

type Output = NonNullable<JobDetail['output']>

const errorOf = async (response: Response) => {
  const body = (await response.json().catch(() => undefined)) as { error?: string } | undefined
  return body?.error ?? `the server answered ${response.status}`
}

/** Saves `blob` as a file, the way a download link would. */
function save(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/**
 * The completed job's output blob. The server serves a public blob to anyone, any other only to its uploader and the
 * job's requester and assigned providers: with a wallet connected, the page signs the read as that account
 * (`protocol/blobRequest.ts`), without one it asks anonymously and, when refused, says who may download and offers to
 * connect (a refused request is an error in the browser's console, so the page does not probe it unasked).
 */
export function OutputDownload({ jobId, output, parties }: { jobId: string; output: Output; parties: string[] }) {
  const [busy, setBusy] = useState(false)
  const [refused, setRefused] = useState(false)
  const [failure, setFailure] = useState<string>()
  const [saved, setSaved] = useState<string>()
  const { wallet, config } = useWallet()
  const fileName = `job-${jobId}-output.bin`

  const signedHeaders = async (): Promise<Record<string, string>> => {
    if (!wallet) return {}
    if (!config) throw new Error('the app config (chain id) is not loaded yet')
    return signedBlobHeaders(wallet, config.chainId, new URL(output.blobPath, window.location.origin), 'GET', output.outputHash)
  }

  const download = async () => {
    setBusy(true)
    setFailure(undefined)
    setSaved(undefined)
    try {
      const response = await fetch(output.blobPath, { headers: await signedHeaders() })
      if (!wallet && (response.status === 401 || response.status === 403)) {
        setRefused(true)
        return
      }
      if (!response.ok) throw new Error(await errorOf(response))
      const blob = await response.blob()
      save(blob, fileName)
      setSaved(
        `Saved ${fileName} (${blob.size.toLocaleString('en-US')} bytes)${wallet ? `, read as ${shortAddress(wallet.address)}` : ''}.`,
      )
    } catch (e) {
      setFailure(`Could not download the output: ${(e as Error).message}`)
    } finally {
      setBusy(false)
    }
  }

  const isParty = wallet && parties.some((p) => p.toLowerCase() === wallet.address.toLowerCase())
  return (
    <div data-testid="job-output">
      <dl className="job-meta">
        <dt>Fingerprint</dt>
        <dd>
          <code>{output.fingerprint}</code>
        </dd>
        <dt>Output blob (sha256)</dt>
        <dd>
          <code data-testid="output-hash">{output.outputHash}</code>
        </dd>
        <dt>Uploaded by</dt>
        <dd>
          <code title={output.provider}>{shortAddress(output.provider)}</code>
        </dd>
      </dl>
      <p className="muted">
        Unless its uploader made it public, the server serves an output only to the job's requester, its assigned providers and its
        uploader, who prove it by signing the request with their wallet (a message signature: no transaction, nothing spent).
      </p>
      {wallet && !isParty ? (
        <p className="warn">The connected account {shortAddress(wallet.address)} is not a party to this job: the server may refuse it.</p>
      ) : null}
      <p className="row">
        <button type="button" onClick={() => void download()} disabled={busy}>
          {busy ? 'Downloading…' : wallet ? `Sign and download as ${shortAddress(wallet.address)}` : 'Download the output'}
        </button>
      </p>
      {saved ? (
        <p className="ok" role="status" data-testid="output-saved">
          {saved}
        </p>
      ) : null}
      {refused && !wallet ? (
        <p role="alert" className="warn" data-testid="output-restricted">
          This output is not public. Connect the requester's or an assigned provider's wallet to download it.
        </p>
      ) : null}
      {wallet ? null : (
        <WalletPicker defaultDevIndex={2} purpose="is this job's requester or one of its providers, to download its output" />
      )}
      {failure ? (
        <p role="alert" className="error">
          {failure}
        </p>
      ) : null}
    </div>
  )
}
