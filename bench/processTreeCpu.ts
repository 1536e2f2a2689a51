import { readdir, readFile } from 'node:fs/promises'

/** Clock ticks per second of `/proc/<pid>/stat`'s times (`getconf CLK_TCK`: 100 on every Linux the bench runs on). */
const ticksPerSecond = 100

/** One process as `/proc` shows it. */
type ProcessInfo = { pid: number; ppid: number; comm: string; cmdline: string; cpuSeconds: number }

/** Where a process stands against the tree: the root itself, one of its descendants, or outside it. */
export type TreePlace = 'root' | 'descendant' | 'outside'

/**
 * CPU seconds (user + system) used so far by `rootPid` and its descendants, each added to the part `partOf` names for
 * it or, when it names none, to its nearest ancestor's part; and by any process outside the tree that `partOf` names
 * (a Postgres backend serving the run's database, say). Linux only: an empty record where `/proc` can't be read.
 * Processes that exited between two readings take their time with them, so a difference of two readings is a lower
 * bound.
 */
export async function processTreeCpu(parameters: {
  rootPid: number
  /** The part a process counts toward, or undefined: its parent's in the tree, none outside it. */
  partOf: (process: Omit<ProcessInfo, 'cpuSeconds'>, place: TreePlace) => string | undefined
}): Promise<Record<string, number>> {
  const processes = await readProcesses()
  const byPid = new Map(processes.map((p) => [p.pid, p]))
  const parts: Record<string, number> = {}
  const placeOf = (info: ProcessInfo): TreePlace => {
    for (let p: ProcessInfo | undefined = info; p; p = byPid.get(p.ppid))
      if (p.pid === parameters.rootPid) return p === info ? 'root' : 'descendant'
    return 'outside'
  }
  const partCache = new Map<number, string | undefined>()
  const partOfPid = (pid: number): string | undefined => {
    if (partCache.has(pid)) return partCache.get(pid)
    const info = byPid.get(pid)
    let part: string | undefined
    if (info) {
      const place = placeOf(info)
      part = parameters.partOf(info, place)
      if (part === undefined && place === 'descendant') part = partOfPid(info.ppid)
    }
    partCache.set(pid, part)
    return part
  }
  for (const info of processes) {
    const part = partOfPid(info.pid)
    if (part !== undefined) parts[part] = (parts[part] ?? 0) + info.cpuSeconds
  }
  return parts
}

async function readProcesses(): Promise<ProcessInfo[]> {
  const entries = await readdir('/proc').catch(() => [] as string[])
  const processes = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((pid) => readProcess(Number(pid))))
  return processes.filter((p) => p !== undefined)
}

/** `/proc/<pid>/stat` and its command line; undefined for a process that exited meanwhile. */
async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/cmdline`, 'utf8')])
    // The command name is in parentheses and may hold spaces or parentheses itself: the fields follow the last ")".
    const close = stat.lastIndexOf(')')
    const fields = stat.slice(close + 2).split(' ')
    return {
      pid,
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      cmdline: cmdline.replaceAll('\0', ' ').trim(),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond,
    }
  } catch {
    return undefined
  }
}
