import pino, { type Logger } from 'pino'
import { logSerializers } from '../protocol/logSerializers.ts'

/** A worker thread's logger at `level`: each record (pino JSON) goes to `send`, for the main thread to write. */
export function workerLogger(level: string, send: (line: string) => void): Logger {
  return pino({ level, serializers: logSerializers }, { write: send })
}

/** Writes a record a worker thread's logger sent (see {@link workerLogger}) through `log`, at its level. */
export function relayLogLine(log: Logger, line: string): void {
  const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = JSON.parse(line) as Record<string, unknown>
  const method = pino.levels.labels[level as number] as pino.Level | undefined
  log[method ?? 'info'](fields, String(msg ?? ''))
}
