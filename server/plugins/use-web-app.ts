import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Plugin } from 'graphql-yoga'

/** Where `npm run web:build` writes the dashboard (`web/dist`). */
export const defaultWebDir = fileURLToPath(new URL('../../web/dist', import.meta.url))

/** What the page reads at `/app-config.json` to sign: the chain, and on a devnet the RPC its dev keys send through. */
export type WebAppConfig = { chainId: number; rpcUrl: string | null; devnet: boolean }

export type UseWebAppOptions = {
  /** The built app (default {@link defaultWebDir}). */
  dir?: string
  config: WebAppConfig
}

type File = {
  body: Uint8Array<ArrayBuffer>
  gzip: Uint8Array<ArrayBuffer> | undefined
  contentType: string
  etag: string
  immutable: boolean
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/** Paths the API answers; the app's fallback page never shadows them. */
const apiPrefixes = ['/graphql', '/graphiql', '/blobs', '/deployment', '/analytics', '/health', '/ready', '/metrics']

const notBuilt = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tessera</title></head><body>
<h1>The dashboard is not built</h1><p>Run <code>npm run web:build</code> (or <code>npm run dev</code>, which builds it), then reload.
The API is at <a href="/graphql">/graphql</a>.</p></body></html>\n`

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : Promise.resolve(e.isFile() ? [path.join(dir, e.name)] : []))),
  )
  return nested.flat()
}

/** Every file of the built app by URL path, with a gzipped copy of the text ones; undefined when it isn't built. */
async function loadApp(dir: string): Promise<Map<string, File> | undefined> {
  const names = await walk(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  if (!names?.some((n) => path.basename(n) === 'index.html')) return undefined
  const files = new Map<string, File>()
  for (const name of names) {
    const body = new Uint8Array(await readFile(name))
    const ext = path.extname(name)
    const contentType = contentTypes[ext] ?? 'application/octet-stream'
    const compressible = /^(text\/|application\/json|image\/svg)/.test(contentType) && body.length > 512
    const urlPath = `/${path.relative(dir, name).split(path.sep).join('/')}`
    files.set(urlPath, {
      body,
      gzip: compressible ? new Uint8Array(gzipSync(body, { level: 9 })) : undefined,
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      // Vite names what it builds under /assets/ by content hash: a new build is a new name.
      immutable: urlPath.startsWith('/assets/'),
    })
  }
  return files
}

function respond(request: Request, file: File): Response {
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    etag: file.etag,
    'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'accept-encoding',
  }
  if (request.headers.get('if-none-match') === file.etag) return new Response(null, { status: 304, headers })
  const gzip = file.gzip && /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
  if (gzip) headers['content-encoding'] = 'gzip'
  const body = gzip ? file.gzip : file.body
  headers['content-length'] = String(body?.length ?? 0)
  return new Response(request.method === 'HEAD' ? null : body, { headers })
}

/**
 * Serves the dashboard (`web/`, built by Vite into `dir`) at `/`: its files by path (hashed assets cached for good,
 * the rest revalidated), gzipped for a client that takes it, and `index.html` for any other GET that asks for HTML
 * outside the API's paths, so `/jobs/42` loads the app, which routes in the page. `/app-config.json` tells the page
 * its chain. The files are read once, on the first request; without a build, `/` says how to make one.
 */
export function useWebApp(options: UseWebAppOptions): Plugin {
  const dir = options.dir ?? defaultWebDir
  const configBody = `${JSON.stringify(options.config)}\n`
  let app: Promise<Map<string, File> | undefined> | undefined
  return {
    async onRequest({ url, request, endResponse }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return
      const pathname = url.pathname
      if (apiPrefixes.some((p) => pathname === p || pathname.startsWith(`${p}/`))) return
      if (pathname === '/app-config.json')
        return endResponse(
          new Response(configBody, { headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' } }),
        )
      app ??= loadApp(dir)
      const files = await app
      const file = files?.get(pathname)
      if (file && pathname !== '/index.html') return endResponse(respond(request, file))
      // A missing asset is a 404, not the app's page: a script tag would otherwise get HTML.
      if (pathname.startsWith('/assets/') || !(request.headers.get('accept') ?? '').includes('text/html')) return
      const index = files?.get('/index.html')
      if (!index) return endResponse(new Response(notBuilt, { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } }))
      return endResponse(respond(request, index))
    },
  }
}
