// Validates AsyncAPI documents with the official parser (@asyncapi/parser).
//
//   node tools/asyncapi/validate.mjs docs/asyncapi/*.yaml
//
// Prints every diagnostic of severity "error" (and, with --warnings, the rest) and exits
// 1 when any file has an error or could not be parsed, 2 on bad usage.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

const args = process.argv.slice(2);
const showWarnings = args.includes('--warnings');
const files = args.filter((arg) => !arg.startsWith('--'));
if (files.length === 0) {
  console.error('usage: node validate.mjs [--warnings] FILE...');
  process.exit(2);
}

const parser = new Parser();
let failed = false;
for (const file of files) {
  const path = resolve(file);
  let source;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    failed = true;
    continue;
  }
  const { document, diagnostics } = await parser.parse(source, { source: path });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const shown = showWarnings ? diagnostics : errors;
  for (const d of shown) {
    const where = d.path && d.path.length ? d.path.join('.') : '(document)';
    const line = d.range ? `:${d.range.start.line + 1}` : '';
    console.error(`${file}${line}: ${SEVERITY[d.severity]}: ${d.code}: ${d.message} at ${where}`);
  }
  if (errors.length > 0 || document === undefined) {
    failed = true;
    console.error(`${file}: INVALID (${errors.length} error(s))`);
  } else {
    const version = document.version();
    console.log(`${file}: valid AsyncAPI ${version} (${document.channels().length} channels, ` +
      `${document.operations().length} operations, ${document.messages().length} messages)`);
  }
}
process.exit(failed ? 1 : 0);
