import { createHash } from 'node:crypto'
import type { GraphiQLOptions, Plugin } from 'graphql-yoga'

/** Where GraphiQL's script, styles, editor workers and icon are served, on this server. */
export const graphiQLAssetsPath = '/graphiql'

type GraphiQLBundle = typeof import('@graphql-yoga/render-graphiql/graphiql')
type Asset = { body: Uint8Array<ArrayBuffer>; contentType: string; etag: string }

const javascript = 'text/javascript; charset=utf-8'
/** Each asset's file name and how to read it from the bundle `@graphql-yoga/render-graphiql` ships. */
const assetSources: Record<string, { contentType: string; read: (bundle: GraphiQLBundle) => string | Uint8Array<ArrayBuffer> }> = {
  'yoga-graphiql.js': { contentType: javascript, read: (b) => b.js },
  'graphiql.css': { contentType: 'text/css; charset=utf-8', read: (b) => b.css },
  'editor.worker.js': { contentType: javascript, read: (b) => b.editorWorkerService },
  'json.worker.js': { contentType: javascript, read: (b) => b.jsonWorker },
  'graphql.worker.js': { contentType: javascript, read: (b) => b.graphqlWorker },
  // A data: URL in the bundle.
  'favicon.ico': {
    contentType: 'image/x-icon',
    read: (b) => new Uint8Array(Buffer.from(b.favicon.slice(b.favicon.indexOf(',') + 1), 'base64')),
  },
}

let loaded: Promise<Map<string, Asset>> | undefined
/** The assets, read once on first use: the bundle is 9 MB, which a server nobody opens GraphiQL on need not hold. */
const loadAssets = () =>
  (loaded ??= import('@graphql-yoga/render-graphiql/graphiql').then((bundle) => {
    const assets = new Map<string, Asset>()
    for (const [name, source] of Object.entries(assetSources)) {
      const content = source.read(bundle)
      const body = typeof content === 'string' ? new Uint8Array(Buffer.from(content, 'utf8')) : content
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
      assets.set(name, { body, contentType: source.contentType, etag })
    }
    return assets
  }))

const url = (name: string) => `${graphiQLAssetsPath}/${name}`
/** JSON safe inside a `<script>` element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c')
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * Yoga's GraphiQL page (`renderGraphiQL` option) with every asset from this server under {@link graphiQLAssetsPath}
 * instead of a CDN, so it works offline and behind an egress firewall. Yoga's own page loads them from unpkg and shows
 * "Loading…" for ever without it.
 */
export function renderGraphiQL(options: GraphiQLOptions = {}): string {
  const workers = { editorWorkerService: url('editor.worker.js'), json: url('json.worker.js'), graphql: url('graphql.worker.js') }
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options.title || 'Tessera GraphiQL')}</title>
    <link rel="icon" href="${url('favicon.ico')}" />
    <link rel="stylesheet" href="${url('graphiql.css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      const workers = ${scriptJson(workers)};
      self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workers[label] };
    </script>
    <script src="${url('yoga-graphiql.js')}"></script>
    <script>
      YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), ${scriptJson(options)});
    </script>
  </body>
</html>
`
}

/**
 * Serves the assets {@link renderGraphiQL}'s page loads, from `@graphql-yoga/render-graphiql` in node_modules, at
 * `/graphiql/<name>`. Each carries an ETag and `no-cache`: a browser revalidates (304) rather than keep a stale script
 * across an upgrade.
 */
export function useGraphiQLAssets(): Plugin {
  const prefix = `${graphiQLAssetsPath}/`
  return {
    async onRequest({ url, request, endResponse }) {
      if (!url.pathname.startsWith(prefix) || (request.method !== 'GET' && request.method !== 'HEAD')) return
      const name = url.pathname.slice(prefix.length)
      if (!Object.hasOwn(assetSources, name)) return endResponse(new Response('not found', { status: 404 }))
      const asset = (await loadAssets()).get(name) as Asset
      const headers = { 'content-type': asset.contentType, etag: asset.etag, 'cache-control': 'no-cache' }
      if (request.headers.get('if-none-match') === asset.etag) return endResponse(new Response(null, { status: 304, headers }))
      return endResponse(new Response(request.method === 'HEAD' ? null : asset.body, { headers }))
    },
  }
}
