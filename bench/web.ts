/**
 * The dashboard (`web/`): what a first visit downloads, and how soon the page is interactive on the devnet, against
 * GraphiQL served by the same server (the other page it serves, 9 MB of editor) in the same run, interleaved A B B A.
 * - Bundle: the gzipped JavaScript `index.html` loads before anything else (its entry script and the chunks it
 *   preloads), against the 200 KB budget, and every chunk of the app for comparison.
 * - Time to interactive, in Chromium with an empty cache each visit: from navigation start until the page's first
 *   live data is on screen (the market's job count; GraphiQL's editor) and the last long task (> 50 ms, the
 *   browser's own `longtask` entries) that began by then or within the next 1.5 s has ended.
 * `npx tsx bench/web.ts` runs this alone and rewrites its section of BENCHMARKS.md (it needs Chromium and a Postgres:
 * `TESSERA_TEST_DATABASE_URL`, or an embedded one).
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Browser } from 'playwright-core'
import { noBrowserReason, startWebStack } from '../test/support/browser.ts'
import { buildWeb } from '../web/build.ts'
import { quantile } from './quantile.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

const distDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'web', 'dist')
/** The budget for first-load JavaScript, gzipped. */
export const firstLoadBudgetBytes = 200 * 1024

export type WebBenchReturnType = {
  firstLoad: { files: { name: string; gzipBytes: number }[]; gzipBytes: number }
  allChunks: { files: number; gzipBytes: number }
  graphiqlGzipBytes: number
  /** Time to interactive per visit, ms, by page. */
  visits: { dashboard: number[]; graphiql: number[] }
  /** Bytes the dashboard's first visit moved over the wire (transfer sizes of every resource). */
  transferredBytes: number
  chromium: string
}

const gz = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).length

async function bundleSizes(): Promise<Pick<WebBenchReturnType, 'firstLoad' | 'allChunks'>> {
  const html = await readFile(path.join(distDir, 'index.html'), 'utf8')
  const names = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/([^"]+\.js)"/g)].map((m) => m[1])
  const files = await Promise.all(names.map(async (name) => ({ name, gzipBytes: gz(await readFile(path.join(distDir, name))) })))
  const { readdir } = await import('node:fs/promises')
  const chunks = (await readdir(path.join(distDir, 'assets'))).filter((f) => f.endsWith('.js'))
  const all = await Promise.all(chunks.map(async (f) => gz(await readFile(path.join(distDir, 'assets', f)))))
  return {
    firstLoad: { files, gzipBytes: files.reduce((a, f) => a + f.gzipBytes, 0) },
    allChunks: { files: chunks.length, gzipBytes: all.reduce((a, b) => a + b, 0) },
  }
}

/** Records, from the first script on, when `selector` first appears and every long task. */
const probe = (selector: string) => `
  window.__tti = { appeared: undefined, longTasks: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__tti.longTasks.push([e.startTime, e.startTime + e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  new MutationObserver((_, observer) => {
    if (window.__tti.appeared === undefined && document.querySelector(${JSON.stringify(selector)})) {
      window.__tti.appeared = performance.now();
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
`

async function visit(
  browser: Browser,
  url: string,
  selector: string,
  headers: Record<string, string> = {},
): Promise<{ tti: number; transferred: number }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, extraHTTPHeaders: headers })
  try {
    const page = await context.newPage()
    await page.addInitScript(probe(selector))
    await page.goto(url)
    await page.waitForSelector(selector, { timeout: 30_000 })
    await page.waitForTimeout(1_500)
    return await page.evaluate(() => {
      const state = (window as unknown as { __tti: { appeared: number; longTasks: [number, number][] } }).__tti
      const settled = state.longTasks.filter(([start]) => start <= state.appeared + 1_500).reduce((end, [, e]) => Math.max(end, e), 0)
      const transferred = performance
        .getEntriesByType('resource')
        .concat(performance.getEntriesByType('navigation'))
        .reduce((sum, e) => sum + ((e as PerformanceResourceTiming).transferSize ?? 0), 0)
      return { tti: Math.max(state.appeared, settled), transferred }
    })
  } finally {
    await context.close()
  }
}

export async function webBench(parameters: { rounds?: number } = {}): Promise<WebBenchReturnType> {
  if (noBrowserReason) throw new Error(noBrowserReason)
  await buildWeb({ ifStale: true, quiet: true })
  const sizes = await bundleSizes()
  const graphiql = await import('@graphql-yoga/render-graphiql/graphiql')
  const graphiqlGzipBytes = gz(new TextEncoder().encode(graphiql.js))
  const web = await startWebStack()
  const stopDemo = web.startDemo(1_000)
  const visits = { dashboard: [] as number[], graphiql: [] as number[] }
  let transferredBytes = 0
  const chromium = web.browser.version()
  try {
    const dashboard = () => visit(web.browser, new URL('/', web.stack.serverUrl).toString(), '[data-testid="job-count"]')
    const editor = () => visit(web.browser, new URL('/graphql', web.stack.serverUrl).toString(), '.graphiql-container .monaco-editor')
    // Warm the server's caches and the OS's, then A B B A.
    await dashboard()
    await editor()
    for (let round = 0; round < (parameters.rounds ?? 10); round++) {
      const order = round % 2 === 0 ? [dashboard, editor] : [editor, dashboard]
      for (const run of order) {
        const { tti, transferred } = await run()
        if (run === dashboard) {
          visits.dashboard.push(tti)
          transferredBytes = transferred
        } else visits.graphiql.push(tti)
      }
    }
  } finally {
    stopDemo()
    await web.stop()
  }
  return { ...sizes, graphiqlGzipBytes, visits, transferredBytes, chromium }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
const ms = (value: number) => `${Math.round(value)} ms`

export function webSection(bench: WebBenchReturnType): string[] {
  const p = (values: number[], q: number) => quantile(values, q)
  const ratio = (q: number) => (p(bench.visits.dashboard, q) / p(bench.visits.graphiql, q)).toFixed(2)
  return [
    '## Dashboard: first-load size and time to interactive against GraphiQL',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Chromium ${bench.chromium}, by`,
    '`npx tsx bench/web.ts` (part of `npm run bench`). The dashboard (`web/`, built by Vite) and GraphiQL are served by',
    'the same server of a devnet stack with two agents and a demo job a second; each visit is a fresh browser context',
    '(empty cache), in blocks A B B A. Time to interactive: from navigation start until the first live data is on',
    "screen (the market's job count; GraphiQL's editor) and the last long task (> 50 ms) begun by then or within 1.5 s",
    'after has ended.',
    '',
    '| | dashboard | GraphiQL | ratio |',
    '| --- | ---: | ---: | ---: |',
    `| JavaScript on first load, gzipped | ${kb(bench.firstLoad.gzipBytes)} | ${kb(bench.graphiqlGzipBytes)} | ${(bench.firstLoad.gzipBytes / bench.graphiqlGzipBytes).toFixed(2)} |`,
    `| time to interactive p50 (${bench.visits.dashboard.length} visits each) | ${ms(p(bench.visits.dashboard, 0.5))} | ${ms(p(bench.visits.graphiql, 0.5))} | ${ratio(0.5)} |`,
    `| time to interactive p90 | ${ms(p(bench.visits.dashboard, 0.9))} | ${ms(p(bench.visits.graphiql, 0.9))} | ${ratio(0.9)} |`,
    '',
    `First load is ${kb(bench.firstLoad.gzipBytes)} of the ${kb(firstLoadBudgetBytes)} budget (${(bench.firstLoad.gzipBytes / firstLoadBudgetBytes).toFixed(2)}×).`,
    `All ${bench.allChunks.files} chunks of every page together: ${kb(bench.allChunks.gzipBytes)} gzipped; the other pages load`,
    `their own chunk when opened. The first visit moved ${kb(bench.transferredBytes)} over the wire in all (HTML, scripts,`,
    'styles, API answers). The first load, file by file (gzipped):',
    '',
    ...bench.firstLoad.files.map((f) => `- \`${f.name}\` ${kb(f.gzipBytes)}`),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await webBench({ rounds: process.env.BENCH_WEB_ROUNDS ? Number(process.env.BENCH_WEB_ROUNDS) : undefined })
  console.log(JSON.stringify({ ...bench, visits: bench.visits }, null, 2))
  writeSection(benchmarksFile, webSection(bench))
}
