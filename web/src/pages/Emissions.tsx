export default function EmissionsPage() {
  return <h1>Emissions</h1>
}
