/** What the server tells the page about its chain (`GET /app-config.json`). */
export type AppConfig = {
  chainId: number
  /** A JSON-RPC URL the browser may use (the devnet's anvil); null when the operator publishes none. */
  rpcUrl: string | null
  /** Whether this is a local devnet, whose well-known dev keys the page may sign with. */
  devnet: boolean
}

let loaded: Promise<AppConfig> | undefined

/** The server's app config, fetched once per page load. */
export function appConfig(): Promise<AppConfig> {
  loaded ??= fetch('/app-config.json').then(async (response) => {
    if (!response.ok) throw new Error(`GET /app-config.json answered ${response.status}`)
    return (await response.json()) as AppConfig
  })
  return loaded
}
