/** A job's status as the shared `.status` badge (styles.css colours each status). */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>
}
