// Builds the UI into one directory the binary embeds (src/web/assets.cc):
// index.html, app.js (our code and uPlot, minified) and app.css.
//   node build.mjs --out DIR
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf('--out');
if (at < 0 || !process.argv[at + 1]) {
  console.error('usage: node build.mjs --out DIR');
  process.exit(2);
}
const out = process.argv[at + 1];
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: out,
  legalComments: 'eof',
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
