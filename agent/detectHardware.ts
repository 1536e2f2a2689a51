import { execFile } from 'node:child_process'
import os from 'node:os'
import { promisify } from 'node:util'

/** ProviderRegistry's `Hardware` struct. */
export type Hardware = {
  gpuModel: number
  gpuCount: number
  vramMiB: number
  cpuCores: number
  memoryMiB: number
  benchmarkScore: number
}

/**
 * Canonical GPU model ids (0 = unknown or CPU only). Matched against `nvidia-smi`'s name in order, so
 * more specific names come first. Ids are part of the on-chain interface: append, never renumber.
 */
export const gpuModels: readonly { id: number; match: RegExp; name: string }[] = [
  { id: 1, match: /H200/i, name: 'NVIDIA H200' },
  { id: 2, match: /H100/i, name: 'NVIDIA H100' },
  { id: 3, match: /A100/i, name: 'NVIDIA A100' },
  { id: 4, match: /L40S/i, name: 'NVIDIA L40S' },
  { id: 5, match: /L4\b/i, name: 'NVIDIA L4' },
  { id: 6, match: /A10G?\b/i, name: 'NVIDIA A10' },
  { id: 7, match: /RTX\s*4090/i, name: 'NVIDIA GeForce RTX 4090' },
  { id: 8, match: /RTX\s*3090/i, name: 'NVIDIA GeForce RTX 3090' },
  { id: 9, match: /T4\b/i, name: 'NVIDIA T4' },
  { id: 10, match: /V100/i, name: 'NVIDIA V100' },
  { id: 11, match: /B200/i, name: 'NVIDIA B200' },
]

/** The canonical id for a GPU name, 0 when unknown. */
export function gpuModelId(name: string): number {
  return gpuModels.find((m) => m.match.test(name))?.id ?? 0
}

export type GpuInfo = { name: string; memoryMiB: number }

/**
 * Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader` output
 * (`NVIDIA H100 80GB HBM3, 81559 MiB` per line).
 */
export function parseNvidiaSmi(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = []
  for (const line of text.split('\n')) {
    const m = /^(.*),\s*(\d+)\s*MiB\s*$/i.exec(line.trim())
    if (m) gpus.push({ name: m[1].trim(), memoryMiB: Number(m[2]) })
  }
  return gpus
}

/** GPUs `nvidia-smi` reports, or none when it is missing or fails. */
export async function queryGpus(): Promise<GpuInfo[]> {
  try {
    const { stdout } = await promisify(execFile)('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], {
      timeout: 5000,
    })
    return parseNvidiaSmi(stdout)
  } catch {
    return []
  }
}

const UINT16_MAX = 0xffff
const UINT32_MAX = 0xffffffff
const clamp = (v: number, max: number) => Math.max(0, Math.min(max, Math.floor(v)))

export type DetectHardwareParameters = {
  /** Fields that win over detection (flags). */
  overrides?: Partial<Hardware>
  /** Measures inference throughput in units per second; used for `benchmarkScore` unless overridden. */
  benchmark?: () => Promise<number>
  /** Seconds per epoch: `benchmarkScore` = units one device serves per epoch. */
  epochLength?: number
  /** Replaces the `nvidia-smi` query (tests). */
  gpus?: () => Promise<GpuInfo[]>
}

/**
 * Detects this machine's hardware: CPU cores and memory from node:os, GPUs from `nvidia-smi`, and the
 * benchmark score from a timed inference. A machine without GPUs counts as one CPU device (gpuModel 0,
 * gpuCount 1) so its capacity, gpuCount × benchmarkScore, is not zero.
 */
export async function detectHardware(parameters: DetectHardwareParameters = {}): Promise<Hardware> {
  const { overrides = {}, epochLength = 30 } = parameters
  const gpus = await (parameters.gpus ?? queryGpus)()
  const first = gpus[0]
  let benchmarkScore = overrides.benchmarkScore
  if (benchmarkScore === undefined) {
    const perSecond = parameters.benchmark ? await parameters.benchmark() : 0
    benchmarkScore = perSecond * epochLength
  }
  const hardware: Hardware = {
    gpuModel: first ? gpuModelId(first.name) : 0,
    gpuCount: Math.max(1, gpus.length),
    vramMiB: first ? Math.min(...gpus.map((g) => g.memoryMiB)) : 0,
    cpuCores: os.availableParallelism(),
    memoryMiB: Math.floor(os.totalmem() / (1024 * 1024)),
    benchmarkScore,
    ...overrides,
  }
  return {
    gpuModel: clamp(hardware.gpuModel, UINT32_MAX),
    gpuCount: clamp(hardware.gpuCount, UINT16_MAX),
    vramMiB: clamp(hardware.vramMiB, UINT32_MAX),
    cpuCores: clamp(hardware.cpuCores, UINT16_MAX),
    memoryMiB: clamp(hardware.memoryMiB, UINT32_MAX),
    benchmarkScore: Math.max(1, clamp(hardware.benchmarkScore, UINT32_MAX)),
  }
}
