// The HTML report: journals in, one self-contained page out (a view of journals, DESIGN principle 6).
export { renderReport, ReportLinkError, type ReportLink, type ReportOptions } from './render.ts';
export { readJournalFile, asJournal, JournalFileError } from './journal-file.ts';
export { inModeOrder } from './mode-order.ts';
export { reportAssets, ReportAssetError, type ReportAssets } from './assets.ts';
export { timelineOf, runningStartMs, type Band, type Chart, type ChartSeries, type Marker, type ProbeTick, type Timeline } from './timeline.ts';
export { escapeHtml, jsonForScript } from './html.ts';
