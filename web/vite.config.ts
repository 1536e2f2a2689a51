import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

/** Where `npm run web:dev` sends what the page asks of the API (a `tessera dev` on its default port). */
const api = process.env.TESSERA_SERVER_URL ?? 'http://localhost:4000'

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The sizes `npm run bench` reports; the budget is 200 KB gzipped on first load.
    reportCompressedSize: true,
  },
  server: {
    proxy: Object.fromEntries(
      ['/graphql', '/blobs', '/deployment', '/analytics', '/app-config.json'].map((p) => [p, { target: api, ws: p === '/graphql' }]),
    ),
  },
})
