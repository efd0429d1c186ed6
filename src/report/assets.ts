// The page's scripts and styles, read from disk when a report is rendered: uPlot from its npm
// package (never copied into src), the page's own script and style from this folder. Inlined, they
// make the report open offline from a file URL.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The text each report inlines. */
export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
  pageJs: string;
  pageCss: string;
}

/** An asset that cannot be inlined as it is. */
export class ReportAssetError extends Error {
  readonly code = 'REPORT_ASSET';
}

const require = createRequire(import.meta.url);

/** Refuses text that would end its element early: inlined code is not escaped, so it must not contain the closing tag. */
function inlinable(name: string, text: string, element: 'script' | 'style'): string {
  if (new RegExp(`</${element}`, 'i').test(text)) throw new ReportAssetError(`${name} contains </${element}: it cannot be inlined`);
  return text;
}

let cached: ReportAssets | undefined;

/** The assets, read once per process. */
export function reportAssets(): ReportAssets {
  cached ??= {
    uplotJs: inlinable('uPlot.iife.min.js', readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'), 'script'),
    uplotCss: inlinable('uPlot.min.css', readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'), 'style'),
    pageJs: inlinable('page.js', readFileSync(new URL('./page.js', import.meta.url), 'utf8'), 'script'),
    pageCss: inlinable('page.css', readFileSync(new URL('./page.css', import.meta.url), 'utf8'), 'style'),
  };
  return cached;
}
