// A small RFC 4180 CSV reader for the data in ../shared/data (quoted fields may hold commas,
// quotes and newlines). Rows come back as objects keyed by the header.
import { readFileSync } from 'node:fs';

export function readCsv(path, limit = Infinity) {
  const text = readFileSync(path, 'utf8');
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length <= limit; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field.length > 0 || row.length > 0) rows.push([...row, field]);
  const [header, ...body] = rows;
  return body.slice(0, limit).map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ''])));
}
