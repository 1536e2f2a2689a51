import { execFile } from 'node:child_process'
import os from 'node:os'
import { promisify } from 'node:util'
import { clampHardware, gpuModelId, type Hardware } from '../protocol/hardware.ts'

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
async function queryGpus(): Promise<GpuInfo[]> {
  try {
    const { stdout } = await promisify(execFile)('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], {
      timeout: 5000,
    })
    return parseNvidiaSmi(stdout)
  } catch {
    return []
  }
}

export type DetectHardwareParameters = {
  /** Seconds per epoch (the deployment's `params.emission.epochLength`): `benchmarkScore` = units one device serves per epoch. */
  epochLength: bigint
  /** Fields that win over detection (flags). */
  overrides?: Partial<Hardware>
  /** Measures inference throughput in units per second; used for `benchmarkScore` unless overridden. */
  benchmark?: () => Promise<number>
  /** Replaces the `nvidia-smi` query (tests). */
  gpus?: () => Promise<GpuInfo[]>
}

/**
 * Detects this machine's hardware: CPU cores and memory from node:os, GPUs from `nvidia-smi`, and the
 * benchmark score from a timed inference. A machine without GPUs counts as one CPU device (gpuModel 0,
 * gpuCount 1) so its capacity, gpuCount × benchmarkScore, is not zero. Fields are clamped into their
 * on-chain ranges, the benchmark score to at least 1.
 */
export async function detectHardware(parameters: DetectHardwareParameters): Promise<Hardware> {
  const { overrides = {} } = parameters
  const gpus = await (parameters.gpus ?? queryGpus)()
  const first = gpus[0]
  let benchmarkScore = overrides.benchmarkScore
  if (benchmarkScore === undefined) {
    const perSecond = parameters.benchmark ? await parameters.benchmark() : 0
    benchmarkScore = perSecond * Number(parameters.epochLength)
  }
  const hardware = clampHardware({
    gpuModel: first ? gpuModelId(first.name) : 0,
    gpuCount: Math.max(1, gpus.length),
    vramMiB: first ? Math.min(...gpus.map((g) => g.memoryMiB)) : 0,
    cpuCores: os.availableParallelism(),
    memoryMiB: Math.floor(os.totalmem() / (1024 * 1024)),
    benchmarkScore,
    ...overrides,
  })
  return { ...hardware, benchmarkScore: Math.max(1, hardware.benchmarkScore) }
}
