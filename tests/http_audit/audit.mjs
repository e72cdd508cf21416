// The graphql-http server audits (GraphQL over HTTP conformance) against a running server.
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
// Prints one JSON line per audit ({id, name, status, reason}) and exits 1 on any error or warning.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await Promise.all(serverAudits({ url }).map((audit) => audit.fn()));
let failed = 0;
for (const result of results) {
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    if (result.response) {
      line.responseStatus = result.response.status;
    }
  }
  if (result.status === 'error' || result.status === 'warn') {
    failed += 1;
  }
  console.log(JSON.stringify(line));
}
process.exit(failed ? 1 : 0);
