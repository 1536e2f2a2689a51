import { type FormEvent, useState } from 'react'
import { defaultLast, type EmissionsView, type EpochRange, intervals, maxEpochs, viewOf } from './view.ts'

/**
 * The roll-up (a radio group: arrow keys move between the options) and the range of epochs. The roll-up applies at once;
 * the range on "Show", after it is checked. The parent keys this by the URL, so going back resets the fields.
 */
export function ViewControls({ view, onChange }: { view: EmissionsView; onChange: (view: EmissionsView) => void }) {
  const [kind, setKind] = useState<EpochRange['kind']>(view.range.kind)
  const [last, setLast] = useState(String(view.range.kind === 'last' ? view.range.last : defaultLast))
  const [from, setFrom] = useState(view.range.kind === 'epochs' ? view.range.from.toString() : '')
  const [to, setTo] = useState(view.range.kind === 'epochs' ? (view.range.to?.toString() ?? '') : '')
  const [problem, setProblem] = useState<string>()

  const submit = (event: FormEvent) => {
    event.preventDefault()
    const search = kind === 'last' ? new URLSearchParams({ last }) : new URLSearchParams({ from, to })
    const asked = viewOf(search)
    if (kind === 'epochs' && from === '') return setProblem('from: give the first epoch to show')
    if (asked.problems.length > 0) return setProblem(asked.problems.join('; '))
    setProblem(undefined)
    onChange({ interval: view.interval, range: asked.view.range })
  }

  return (
    <div className="emissions-controls">
      <fieldset className="segmented">
        <legend>Roll-up</legend>
        {intervals.map((i) => (
          <label key={i.value}>
            <input
              type="radio"
              name="interval"
              value={i.value}
              checked={view.interval === i.value}
              onChange={() => onChange({ ...view, interval: i.value })}
            />
            <span>{i.label}</span>
          </label>
        ))}
      </fieldset>

      <form className="emissions-range" onSubmit={submit} aria-describedby="range-hint">
        <fieldset>
          <legend>Epochs</legend>
          <div className="row">
            <input type="radio" id="range-last" name="range" checked={kind === 'last'} onChange={() => setKind('last')} />
            <label htmlFor="range-last">The last</label>
            <label htmlFor="range-last-count" className="visually-hidden">
              Number of epochs
            </label>
            <input
              id="range-last-count"
              type="number"
              min={1}
              max={maxEpochs}
              value={last}
              onChange={(e) => {
                setKind('last')
                setLast(e.target.value)
              }}
            />
            <span>epochs</span>
          </div>
          <div className="row">
            <input type="radio" id="range-epochs" name="range" checked={kind === 'epochs'} onChange={() => setKind('epochs')} />
            <label htmlFor="range-epochs">Epochs</label>
            <label htmlFor="range-from" className="visually-hidden">
              From epoch
            </label>
            <input
              id="range-from"
              type="number"
              min={0}
              placeholder="from"
              value={from}
              onChange={(e) => {
                setKind('epochs')
                setFrom(e.target.value)
              }}
            />
            <span>to</span>
            <label htmlFor="range-to" className="visually-hidden">
              To epoch (empty: the latest closed)
            </label>
            <input
              id="range-to"
              type="number"
              min={0}
              placeholder="latest"
              value={to}
              onChange={(e) => {
                setKind('epochs')
                setTo(e.target.value)
              }}
            />
          </div>
          <p id="range-hint" className="hint muted">
            One epoch is one economic day; at most {maxEpochs} epochs at once.
          </p>
          <button type="submit">Show</button>
        </fieldset>
        {problem ? (
          <p role="alert" className="error">
            {problem}
          </p>
        ) : null}
      </form>
    </div>
  )
}
