import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react'
import { type AppConfig, appConfig } from '../appConfig.ts'
import type { Wallet } from './types.ts'

type WalletState = {
  wallet: Wallet | undefined
  config: AppConfig | undefined
  error: string | undefined
  connecting: boolean
  connectInjected: () => Promise<void>
  connectDevKey: (index: number) => Promise<void>
  disconnect: () => void
}

const WalletContext = createContext<WalletState | undefined>(undefined)

/**
 * The account the pages sign with, kept while the page is open so Submit and the provider console share it. viem
 * loads only when a person connects: the market page never needs it.
 */
export function WalletProvider({ children }: { children: ReactNode }) {
  const [wallet, setWallet] = useState<Wallet>()
  const [config, setConfig] = useState<AppConfig>()
  const [error, setError] = useState<string>()
  const [connecting, setConnecting] = useState(false)
  useEffect(() => {
    appConfig().then(setConfig, (e: Error) => setError(e.message))
  }, [])
  const connect = useCallback(async (how: (c: AppConfig, connect: typeof import('./connect.ts')) => Wallet | Promise<Wallet>) => {
    setConnecting(true)
    setError(undefined)
    try {
      const [c, module] = await Promise.all([appConfig(), import('./connect.ts')])
      setWallet(await how(c, module))
    } catch (e) {
      setError((e as Error).message)
    } finally {
      setConnecting(false)
    }
  }, [])
  const value = useMemo<WalletState>(
    () => ({
      wallet,
      config,
      error,
      connecting,
      connectInjected: () => connect((c, m) => m.connectInjected(c)),
      connectDevKey: (index) => connect((c, m) => m.connectDevKey(c, index)),
      disconnect: () => setWallet(undefined),
    }),
    [wallet, config, error, connecting, connect],
  )
  return <WalletContext.Provider value={value}>{children}</WalletContext.Provider>
}

export function useWallet(): WalletState {
  const state = useContext(WalletContext)
  if (!state) throw new Error('useWallet outside WalletProvider')
  return state
}
