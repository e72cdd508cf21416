// A page served from another loopback origin (its own small server on localhost) calls the
// API with fetch, without and with a token, and reports what the browser let it read.
// Prints one JSON line; exits 1 only when the browser could not run the page.
// Usage: node cross_origin.mjs <api base url> <token>
import { createServer } from 'node:http';
import { launch } from './browser.mjs';

const [api, token] = process.argv.slice(2);
const PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>A frontend</title></head><body><script>
async function call(headers) {
  try {
    const response = await fetch(${JSON.stringify(api + '/graphql')}, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    return { status: response.status, body: await response.json() };
  } catch (error) {
    return { refused: String(error) };
  }
}
</script></body></html>`;

const site = createServer((_, response) => {
  response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  response.end(PAGE);
});
await new Promise((resolve) => site.listen(0, 'localhost', resolve));
const origin = `http://localhost:${site.address().port}`;
let session;
try {
  session = await launch();
  const page = await session.context.newPage();
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(message.text()));
  await page.goto(origin + '/');
  const anonymous = await page.evaluate(() => call({}));
  const withToken = await page.evaluate((t) => call({ Authorization: `Bearer ${t}` }), token);
  console.log(JSON.stringify({ ok: true, origin, anonymous, withToken, console: consoleLines, offLoopback: session.offLoopback }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error && error.stack || error) }));
  process.exitCode = 1;
} finally {
  if (session) await session.close();
  site.close();
}
