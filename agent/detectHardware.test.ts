import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { gpuModelId } from '../protocol/hardware.ts'
import { detectHardware, parseNvidiaSmi } from './detectHardware.ts'

describe('detectHardware', () => {
  it('parses nvidia-smi csv and maps names to canonical ids', () => {
    const gpus = parseNvidiaSmi('NVIDIA H100 80GB HBM3, 81559 MiB\nNVIDIA H100 80GB HBM3, 81559 MiB\n')
    expect(gpus).toEqual([
      { name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
      { name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
    ])
    expect(gpuModelId('NVIDIA H200')).toBe(1)
    expect(gpuModelId('NVIDIA H100 PCIe')).toBe(2)
    expect(gpuModelId('NVIDIA L4')).toBe(5)
    expect(gpuModelId('NVIDIA L40S')).toBe(4)
    expect(gpuModelId('Some Accelerator')).toBe(0)
  })

  it('reports GPUs, CPU, memory and a benchmark score per epoch', async () => {
    const hw = await detectHardware({
      gpus: async () => [
        { name: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40960 },
        { name: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40960 },
      ],
      benchmark: async () => 1000.7,
      epochLength: 30n,
    })
    expect(hw).toEqual({
      gpuModel: 3,
      gpuCount: 2,
      vramMiB: 40960,
      cpuCores: os.availableParallelism(),
      memoryMiB: Math.floor(os.totalmem() / 2 ** 20),
      benchmarkScore: 30021,
    })
  })

  it('counts a CPU-only machine as one device and lets flags win', async () => {
    const hw = await detectHardware({ epochLength: 30n, gpus: async () => [], overrides: { vramMiB: 2048, benchmarkScore: 500 } })
    expect(hw).toMatchObject({ gpuModel: 0, gpuCount: 1, vramMiB: 2048, benchmarkScore: 500 })
    expect((await detectHardware({ epochLength: 30n, gpus: async () => [], overrides: { benchmarkScore: 2 ** 40 } })).benchmarkScore).toBe(
      0xffffffff,
    )
  })
})
