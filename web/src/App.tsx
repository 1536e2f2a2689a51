import { lazy, Suspense, useMemo } from 'react'
import { Provider as UrqlProvider } from 'urql'
import { Link, Route, Switch, useLocation } from 'wouter'
import { HeadProvider, IndexerStatus } from './components/live.tsx'
import { createApiClient } from './graphql/client.ts'
import { MarketPage } from './pages/Market.tsx'
import { WalletProvider } from './wallet/WalletContext.tsx'

// The market is the landing page and ships in the first load; every other page is its own chunk.
const JobsPage = lazy(() => import('./pages/Jobs.tsx'))
const JobPage = lazy(() => import('./pages/Job.tsx'))
const ProvidersPage = lazy(() => import('./pages/Providers.tsx'))
const ProviderPage = lazy(() => import('./pages/Provider.tsx'))
const EmissionsPage = lazy(() => import('./pages/Emissions.tsx'))
const SubmitPage = lazy(() => import('./pages/Submit.tsx'))
const ConsolePage = lazy(() => import('./pages/Console.tsx'))

const nav = [
  { href: '/', label: 'Market' },
  { href: '/jobs', label: 'Jobs' },
  { href: '/providers', label: 'Providers' },
  { href: '/emissions', label: 'Emissions' },
  { href: '/submit', label: 'Submit a job' },
  { href: '/console', label: 'Provider console' },
]

function Nav() {
  const [location] = useLocation()
  const current = (href: string) => (href === '/' ? location === '/' : location === href || location.startsWith(`${href}/`))
  return (
    <nav aria-label="Pages">
      <ul>
        {nav.map((item) => (
          <li key={item.href}>
            <Link href={item.href} aria-current={current(item.href) ? 'page' : undefined}>
              {item.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  )
}

export function App() {
  const client = useMemo(() => createApiClient(), [])
  return (
    <UrqlProvider value={client}>
      <HeadProvider>
        <WalletProvider>
          <a className="skip-link" href="#main">
            Skip to content
          </a>
          <header className="site-header">
            <Link href="/" className="brand">
              Tessera
            </Link>
            <Nav />
            <IndexerStatus />
          </header>
          <main id="main" tabIndex={-1}>
            <Suspense fallback={<p aria-busy="true">Loading…</p>}>
              <Switch>
                <Route path="/" component={MarketPage} />
                <Route path="/jobs">
                  <JobsPage />
                </Route>
                <Route path="/jobs/:id">{(params) => <JobPage id={params.id} />}</Route>
                <Route path="/providers">
                  <ProvidersPage />
                </Route>
                <Route path="/providers/:address">{(params) => <ProviderPage address={params.address} />}</Route>
                <Route path="/emissions">
                  <EmissionsPage />
                </Route>
                <Route path="/submit">
                  <SubmitPage />
                </Route>
                <Route path="/console">
                  <ConsolePage />
                </Route>
                <Route>
                  <h1>Not found</h1>
                  <p>
                    No page here. <Link href="/">Back to the market</Link>.
                  </p>
                </Route>
              </Switch>
            </Suspense>
          </main>
        </WalletProvider>
      </HeadProvider>
    </UrqlProvider>
  )
}
