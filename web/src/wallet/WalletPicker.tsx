import { useId, useState } from 'react'
import { useWallet } from './WalletContext.tsx'

/**
 * Connects the account a page signs with: the browser's wallet when there is one and, on the devnet, any of its dev
 * accounts (`defaultDevIndex` preselected). Once connected, shows the account and a way to disconnect.
 */
export function WalletPicker({ defaultDevIndex, purpose }: { defaultDevIndex: number; purpose: string }) {
  const { wallet, config, error, connecting, connectInjected, connectDevKey, disconnect } = useWallet()
  const [index, setIndex] = useState(defaultDevIndex)
  const selectId = useId()
  if (wallet)
    return (
      <section className="wallet" aria-label="Connected account">
        <p>
          Signing as <code data-testid="wallet-address">{wallet.address}</code> ({wallet.label}){' '}
          <button type="button" className="secondary" onClick={disconnect}>
            Disconnect
          </button>
        </p>
      </section>
    )
  const injected = typeof window !== 'undefined' && Boolean(window.ethereum)
  return (
    <section className="wallet" aria-label="Connect an account">
      <p>Connect the account that {purpose}.</p>
      <div className="row">
        <button
          type="button"
          onClick={() => void connectInjected()}
          disabled={connecting || !injected}
          title={injected ? undefined : 'No browser wallet found'}
        >
          Connect browser wallet
        </button>
        {config?.devnet && config.rpcUrl ? (
          <>
            <label htmlFor={selectId}>or dev account</label>
            <select id={selectId} value={index} onChange={(e) => setIndex(Number(e.target.value))}>
              {Array.from({ length: 10 }, (_, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the dev accounts are numbered
                <option key={i} value={i}>
                  #{i}
                </option>
              ))}
            </select>
            <button type="button" onClick={() => void connectDevKey(index)} disabled={connecting}>
              Use dev account
            </button>
          </>
        ) : null}
      </div>
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : null}
    </section>
  )
}
