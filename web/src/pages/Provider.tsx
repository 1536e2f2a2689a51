export default function ProviderPage({ address }: { address: string }) {
  return <h1>Provider {address}</h1>
}
